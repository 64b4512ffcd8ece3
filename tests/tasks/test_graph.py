from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from tasks.imaging.graph import mask_graph


def _half_model(path: Path) -> Path:
    """IMG.LY's layout in small: float32 in and out, float16 weights, Casts at the edges, an
    integer -> float Cast on the mask's path that must survive, and a side output after the
    mask, computed only for itself."""
    rng = np.random.default_rng(11)
    weights = numpy_helper.from_array(rng.normal(size=(4, 3, 3, 3)).astype(np.float16), "w")
    side_weights = numpy_helper.from_array(np.ones((1, 4, 1, 1), np.float16), "side_w")
    per_channel = numpy_helper.from_array(np.array([1, 4, 1, 1], np.int64), "per_channel")
    graph = helper.make_graph(
        [
            helper.make_node("Cast", ["input"], ["half"], to=TensorProto.FLOAT16),
            helper.make_node("Conv", ["half", "w"], ["conv"], pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["conv"], ["relu"]),
            helper.make_node("Cast", ["relu"], ["relu_f"], to=TensorProto.FLOAT),
            helper.make_node("Shape", ["input"], ["shape"]),  # [1, 3, 8, 8], one per channel
            helper.make_node("Cast", ["shape"], ["shape_f"], to=TensorProto.FLOAT),
            helper.make_node("Reshape", ["shape_f", "per_channel"], ["scale"]),
            helper.make_node("Mul", ["relu_f", "scale"], ["output"]),
            helper.make_node("Conv", ["conv", "side_w"], ["side_conv"]),
            helper.make_node("Sigmoid", ["side_conv"], ["side_half"]),
            helper.make_node("Cast", ["side_half"], ["side"], to=TensorProto.FLOAT),
        ],
        "half",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 8, 8])],
        [
            helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 4, 8, 8]),
            helper.make_tensor_value_info("side", TensorProto.FLOAT, [1, 1, 8, 8]),
        ],
        initializer=[weights, side_weights, per_channel],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def _run(model: str | bytes, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    return session.run(["output"], {"input": x})[0]


def test_the_mask_graph_is_the_first_output_in_float32_with_the_same_values(
    tmp_path: Path,
) -> None:
    path = _half_model(tmp_path / "half.onnx")
    graph = mask_graph(str(path))
    assert graph is not None
    model = onnx.load_from_string(graph)
    assert [o.name for o in model.graph.output] == ["output"]
    assert {n.op_type for n in model.graph.node} == {
        "Cast",
        "Conv",
        "Relu",
        "Shape",
        "Reshape",
        "Mul",
    }
    assert {t.name for t in model.graph.initializer} == {"w", "per_channel"}
    assert {t.data_type for t in model.graph.initializer} == {TensorProto.FLOAT, TensorProto.INT64}
    casts = [n for n in model.graph.node if n.op_type == "Cast"]
    assert all(a.i == TensorProto.FLOAT for n in casts for a in n.attribute if a.name == "to")
    x = np.random.default_rng(2).normal(size=(1, 3, 8, 8)).astype(np.float32)
    stored, runs = _run(str(path), x), _run(graph, x)
    np.testing.assert_allclose(runs, stored, atol=0.02 * 8)  # half rounds its activations
    assert sum(list(n.input) == ["shape"] for n in casts) == 1  # the integer cast is kept


def test_float32_models_with_one_output_are_left_as_they_are(tiny_ref) -> None:
    assert mask_graph(tiny_ref.path) is None


def test_the_prepared_graph_is_made_once_beside_its_model_and_remade_for_another_file(
    tmp_path: Path,
) -> None:
    from tasks.imaging.graph import PREPARED_SUFFIX, prepared_graph

    path = tmp_path / "model.onnx"
    _half_model(path)
    made = prepared_graph(str(path), "sha-a")
    assert made == str(path) + PREPARED_SUFFIX
    assert Path(made).read_bytes() == mask_graph(str(path))
    stamp = Path(made).stat().st_mtime_ns
    assert prepared_graph(str(path), "sha-a") == made and Path(made).stat().st_mtime_ns == stamp
    prepared_graph(str(path), "sha-b")  # the marker names another model file: made again
    assert Path(made).stat().st_mtime_ns != stamp
    assert Path(made + ".sha256").read_text().split()[0] == "sha-b"
    assert not list(tmp_path.glob("*.partial"))
