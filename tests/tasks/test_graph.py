from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from tasks.imaging.graph import float32_graph


def _half_model(path: Path) -> Path:
    """IMG.LY's layout in small: float32 in and out, float16 weights, Casts at the edges,
    plus an integer -> float Cast that must survive."""
    rng = np.random.default_rng(11)
    weights = numpy_helper.from_array(rng.normal(size=(4, 3, 3, 3)).astype(np.float16), "w")
    graph = helper.make_graph(
        [
            helper.make_node("Cast", ["input"], ["half"], to=TensorProto.FLOAT16),
            helper.make_node("Conv", ["half", "w"], ["conv"], pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["conv"], ["relu"]),
            helper.make_node("Cast", ["relu"], ["output"], to=TensorProto.FLOAT),
            helper.make_node("Shape", ["input"], ["shape"]),
            helper.make_node("Cast", ["shape"], ["shape_f"], to=TensorProto.FLOAT),
        ],
        "half",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 8, 8])],
        [
            helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 4, 8, 8]),
            helper.make_tensor_value_info("shape_f", TensorProto.FLOAT, [4]),
        ],
        initializer=[weights],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def _run(model: str | bytes, x: np.ndarray) -> list[np.ndarray]:
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x})


def test_half_weights_run_as_float32_with_the_same_outputs(tmp_path: Path) -> None:
    path = _half_model(tmp_path / "half.onnx")
    wide = float32_graph(str(path))
    assert wide is not None
    model = onnx.load_from_string(wide)
    assert {t.data_type for t in model.graph.initializer} == {TensorProto.FLOAT}
    casts = [n for n in model.graph.node if n.op_type == "Cast"]
    assert all(a.i == TensorProto.FLOAT for n in casts for a in n.attribute if a.name == "to")
    x = np.random.default_rng(2).normal(size=(1, 3, 8, 8)).astype(np.float32)
    (half_out, half_shape), (wide_out, wide_shape) = _run(str(path), x), _run(wide, x)
    np.testing.assert_allclose(wide_out, half_out, atol=0.02)  # half rounds its activations
    assert wide_shape.tolist() == half_shape.tolist() == [1, 3, 8, 8]


def test_float32_models_are_left_as_they_are(tiny_ref) -> None:
    assert float32_graph(tiny_ref.path) is None
