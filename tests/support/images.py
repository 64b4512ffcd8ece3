"""Images and models made by the tests themselves."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image


def product_photo(size: tuple[int, int] = (640, 480), *, box: float = 0.5) -> Image.Image:
    """A light-grey backdrop with a dark product (rectangle) in the middle."""
    image = Image.new("RGB", size, (205, 205, 200))
    w, h = size
    left, top = int(w * (1 - box) / 2), int(h * (1 - box) / 2)
    image.paste((30, 60, 90), (left, top, w - left, h - top))
    return image


def encoded(image: Image.Image, fmt: str = "JPEG", **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def tiny_model(path: Path, side: int = 64) -> Path:
    """An ONNX graph with IS-Net's interface at `side` px: dark pixels are 'product'.

    output = sigmoid(-20 * mean_over_channels(input)); with (pixel - 128) / 256 input, a pixel
    darker than mid-grey scores above 0.5. It runs in microseconds, so unit and flow tests
    exercise the real onnxruntime + rembg session path without the 88 MB model.
    """
    import onnx
    from onnx import TensorProto, helper

    gain = helper.make_tensor("gain", TensorProto.FLOAT, [], [-20.0])
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["input"], ["mean"], axes=[1], keepdims=1),
            helper.make_node("Mul", ["mean", "gain"], ["scaled"]),
            helper.make_node("Sigmoid", ["scaled"], ["output"]),
        ],
        "tiny-isnet",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, side, side])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, side, side])],
        initializer=[gain],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0
