"""Load a model file as the graph packshot runs: the mask's nodes only, in float32.

IMG.LY's IS-Net file keeps its weights in float16 with a Cast around every graph input and
output. onnxruntime's CPU provider (here, on x86) has no float16 convolution, so it computes in
float32 and inserts a Cast on both sides of every kernel: 4% of the run in Cast alone, and
layout reorders between them. Widening the weights once at load time and turning the casts to
half into casts to float (which onnxruntime then drops) gives the same network in float32 end to
end: 5-15% faster per image here (1.65-1.93 s against 1.89-2.17 s, measured side by side),
raw masks within 6e-4 of the file's (a seventh of one 8-bit level).

The file also has eleven more outputs than the mask: five deep-supervision side masks, each
upsampled to 1024x1024 through a sigmoid, and six decoder feature maps. onnxruntime computes
every node whatever outputs a run asks for, and keeps every graph output's buffer to the end.
Keeping only the nodes the first output (the mask) depends on drops 71 of 734 nodes and gives
the same mask 5-6% sooner here (1.57-1.59 s against 1.67-1.68 s per image, the means of two
sessions of four pairs side by side). Both steps together: 11-13% against the file as stored.

The file on disk, and its checksum in the catalog, stay as they are. The graph packshot runs is
made once per model file (`prepared_graph`, at pull time or on first use) and kept beside it with
its own sha256, so a fresh process (a Lambda environment, an ECS task, a flow run's workers)
loads it instead of rebuilding it (benchmarks/RESULTS.md, "Cold start").
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import onnx

# The prepared graph beside its model: `<model file><PREPARED_SUFFIX>`, and a marker holding the
# model's sha256, the prepared file's sha256 and its size.
PREPARED_SUFFIX = ".mask-f32.onnx"


def prepared_graph(path: str, model_sha256: str) -> str | bytes:
    """The graph packshot runs for the model at `path`: the path of its prepared copy, made and
    verified once; the model's own path when that is the graph; the serialised graph itself
    where the model's folder cannot be written (a read-only image)."""
    target = Path(path + PREPARED_SUFFIX)
    marker = target.with_name(target.name + ".sha256")
    if _recorded(target, marker, model_sha256):
        return str(target)
    graph = mask_graph(path)
    if graph is None:
        return path
    try:
        _store(target, marker, graph, model_sha256)
    except OSError:
        return graph
    return str(target)


def _recorded(target: Path, marker: Path, model_sha256: str) -> bool:
    try:
        source, _, size = marker.read_text().split()
        return source == model_sha256 and target.stat().st_size == int(size)
    except (OSError, ValueError):
        return False


def _store(target: Path, marker: Path, graph: bytes, model_sha256: str) -> None:
    """Write the graph and its marker atomically (processes may race to make the same one)."""
    import hashlib

    digest = hashlib.sha256(graph).hexdigest()
    partial = target.with_name(f"{target.name}.{uuid.uuid4().hex}.partial")
    try:
        partial.write_bytes(graph)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    marker.write_text(f"{model_sha256} {digest} {len(graph)}\n")


def mask_graph(path: str) -> bytes | None:
    """The model at `path` as serialised ONNX that computes only its first output, in float32;
    None when that is the file as stored (one output, no float16)."""
    # Imported here, not at the top: onnx (through ml_dtypes) costs a fresh process ~0.6 s,
    # and only the first process to see a model file builds its graph.
    import onnx

    model = onnx.load(path)
    pruned = _keep_first_output(model.graph)
    widened = _widen_halves(model.graph)
    return model.SerializeToString() if pruned or widened else None


def _keep_first_output(graph: onnx.GraphProto) -> bool:
    """Drop every output but the first, and the nodes and tensors only they needed."""
    if len(graph.output) == 1:
        return False
    made_by = {name: node for node in graph.node for name in node.output}
    needed: dict[int, onnx.NodeProto] = {}
    pending = [graph.output[0].name]
    while pending:
        node = made_by.get(pending.pop())
        if node is not None and id(node) not in needed:
            needed[id(node)] = node
            pending.extend(node.input)
    nodes = [node for node in graph.node if id(node) in needed]  # order kept
    used = {name for node in nodes for name in (*node.input, *node.output)}
    first = graph.output[0]
    _replace(graph.output, [first])
    _replace(graph.node, nodes)
    _replace(graph.initializer, [t for t in graph.initializer if t.name in used])
    _replace(graph.value_info, [v for v in graph.value_info if v.name in used])
    return True


def _widen_halves(graph: onnx.GraphProto) -> bool:
    """float16 weights and casts to half become float32; False when there were none."""
    from onnx import TensorProto

    halves = [t for t in graph.initializer if t.data_type == TensorProto.FLOAT16]
    if not halves:
        return False
    for tensor in halves:
        _widen(tensor)
    for node in graph.node:
        if node.op_type == "Constant":
            for attribute in node.attribute:
                if attribute.name == "value" and attribute.t.data_type == TensorProto.FLOAT16:
                    _widen(attribute.t)
        elif node.op_type == "Cast":  # to half becomes to float: onnxruntime then drops the
            for attribute in node.attribute:  # float -> float casts as no-ops
                if attribute.name == "to" and attribute.i == TensorProto.FLOAT16:
                    attribute.i = TensorProto.FLOAT
    for info in (*graph.value_info, *graph.input, *graph.output):
        if info.type.tensor_type.elem_type == TensorProto.FLOAT16:
            info.type.tensor_type.elem_type = TensorProto.FLOAT
    return True


def _widen(tensor: onnx.TensorProto) -> None:
    from onnx import numpy_helper

    wide = numpy_helper.to_array(tensor).astype(np.float32)
    tensor.CopyFrom(numpy_helper.from_array(wide, tensor.name))


def _replace(field, items: list) -> None:
    """Make the repeated protobuf `field` hold `items` (a new list, possibly of its own)."""
    del field[:]
    field.extend(items)
