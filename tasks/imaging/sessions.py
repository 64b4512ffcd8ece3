"""Background-removal sessions: packshot's IS-Net session and rembg's classes, cached per process.

Tasks pass a `ModelRef` (plain values); each worker process builds its session once and
reuses it for every batch it runs, so Dask never pickles a session.

Precision is settled in the worker, from its own CPU. `auto` computes in bfloat16 where the CPU
has bfloat16 instructions (AVX512_BF16 or AMX) and onnxruntime has its OpenVINO execution
provider (the `onnxruntime-openvino` build, packshot's onnxruntime on x86-64 Linux); elsewhere
in float32 on onnxruntime's own CPU provider. On this project's AMD EPYC (Zen 4) the IS-Net
mask takes 0.78-0.85 s in bfloat16 against 1.53-1.65 s in float32. The 8-bit masks of the four
sample photos differ by at most 5 levels, by 0.01-0.13 levels on average; 0.002-0.08% of their
pixels change side of the foreground threshold.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
from PIL import Image

from schemas.models import ModelRef
from schemas.settings import Precision
from tasks.imaging.compose import mask_from_raw
from tasks.imaging.graph import prepared_graph
from tasks.imaging.resample import bilinear


class ImglyIsnetSession:
    """IS-Net with IMG.LY's preprocessing, in float32 and vectorised.

    It has the shape of a rembg session (`inner_session`, `predict`, `name`) without importing
    rembg: `import rembg` loads pymatting, whose numba kernels (never used by packshot) compile
    for about a minute on a fresh install (benchmarks/RESULTS.md, "Start-up").

    rembg's generic path resizes with LANCZOS, normalises in float64 by the image maximum and
    asks onnxruntime for every graph output; this one resizes by plain bilinear interpolation,
    as IMG.LY does, normalises as the weights were trained ((pixel - mean) / std on 0..255), and
    runs only the graph's mask, with the float16-stored weights as float32 (see
    tasks/imaging/graph.py), on the providers its precision picked (see `inference`).
    """

    def __init__(self, ref: ModelRef, sess_opts: ort.SessionOptions, providers: list) -> None:
        # Built from the mask's graph in float32, where rembg's would load the file as stored
        # (float16, twelve outputs).
        self.model_name = ref.name
        self.inner_session = ort.InferenceSession(
            prepared_graph(ref.path, ref.sha256), sess_options=sess_opts, providers=providers
        )
        self.ref = ref
        spec = self.inner_session.get_inputs()[0]
        self.input_name = spec.name
        self.output_name = self.inner_session.get_outputs()[0].name
        norm = ref.normalisation
        self._mean = np.asarray(norm.mean, dtype=np.float32)
        self._scale = 1.0 / np.asarray(norm.std, dtype=np.float32)

    def prepare(self, img: Image.Image) -> np.ndarray:
        """The model's input tensor for `img` (1x3xSxS float32): resized as the publisher
        resizes (see tasks/imaging/resample.py), then normalised plane by plane straight into
        the tensor, so no float64 copy is made (6 ms here, against 15 ms with Pillow)."""
        side = self.ref.input_size
        rgb = img if img.mode == "RGB" else img.convert("RGB")  # convert() would copy RGB too
        small = bilinear(np.asarray(rgb), (side, side))
        tensor = np.empty((1, 3, side, side), dtype=np.float32)
        for index, band in enumerate(cv2.split(small)):  # contiguous planes: 1 ms faster
            plane = tensor[0, index]
            np.subtract(band, self._mean[index], out=plane, dtype=np.float32)
            plane *= self._scale[index]
        return tensor

    def infer(self, tensor: np.ndarray) -> np.ndarray:
        """The raw mask (SxS float32, 0..1) for a prepared tensor."""
        (out,) = self.inner_session.run([self.output_name], {self.input_name: tensor})
        return out[0, 0]

    def predict(self, img: Image.Image, *args: object, **kwargs: object) -> list[Image.Image]:
        return [mask_from_raw(self.infer(self.prepare(img)), img.size)]

    @classmethod
    def name(cls, *args: object, **kwargs: object) -> str:
        return "isnet-imgly"


def session_options(threads: int) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle intra-op threads sleep instead of spinning: decode and encode run on the same cores
    # while the model works, and spinning threads would take their time.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


# Intra-op threads this process settled on from its own host (a Dask worker plugin sets it);
# it wins over the threads a job was planned with, since the planner may sit on another host.
_PINNED_THREADS: int | None = None


def pin_threads(threads: int | None) -> None:
    """Make every session this process builds use `threads` (None: as each job asks)."""
    global _PINNED_THREADS
    _PINNED_THREADS = threads


def pinned_threads() -> int | None:
    return _PINNED_THREADS


OPENVINO = "OpenVINOExecutionProvider"
FLOAT32_CPU, BFLOAT16_OPENVINO = "float32/cpu", "bfloat16/openvino"  # `inference` labels
BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def native_bfloat16(cpuinfo: str | None = None) -> bool:
    """True when the CPU (this host's /proc/cpuinfo unless given) has bfloat16 instructions."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:  # not Linux: no way to tell here, so no
            return False
    return not BF16_FLAGS.isdisjoint(cpuinfo.split())


@cache
def inference(precision: Precision) -> str:
    """What `precision` means on this host, as the catalog records it."""
    return settle(precision, ort.get_available_providers(), native_bfloat16())


def settle(precision: Precision, available: list[str], bfloat16: bool) -> str:
    """float32/cpu (onnxruntime's own CPU provider) or bfloat16/openvino for `precision`, given
    onnxruntime's providers and whether the CPU has bfloat16; a clear error when bfloat16 was
    asked for and cannot run."""
    openvino = OPENVINO in available
    if precision == "auto":
        precision = "bfloat16" if openvino and bfloat16 else "float32"
    if precision == "float32":
        return FLOAT32_CPU
    if not openvino:
        raise RuntimeError(
            "precision bfloat16 needs onnxruntime's OpenVINO execution provider (the "
            f"onnxruntime-openvino package); this onnxruntime has {', '.join(available)}"
        )
    if not bfloat16:
        raise RuntimeError(
            "precision bfloat16 needs a CPU with bfloat16 instructions (avx512_bf16 or amx_bf16 "
            "in /proc/cpuinfo); use precision auto or float32 on this host"
        )
    return BFLOAT16_OPENVINO


def providers(label: str, threads: int) -> list:
    """onnxruntime's providers for an `inference` label. No OpenVINO model cache (`cache_dir`):
    onnxruntime-openvino could not reuse the bfloat16 network it saved there, so every process
    wrote 176 MB again and built its session slower than without one (benchmarks/RESULTS.md)."""
    if label == FLOAT32_CPU:
        return ["CPUExecutionProvider"]
    config = {
        "INFERENCE_PRECISION_HINT": "bf16",
        # Several worker processes can share a host: pinned, each would take the same cores.
        "ENABLE_CPU_PINNING": "NO",
    }
    options = {"device_type": "CPU", "num_of_threads": str(threads)}
    return [(OPENVINO, {**options, "load_config": json.dumps({"CPU": config})})]


def get_session(ref: ModelRef, threads: int, model_home: str, precision: Precision = "auto"):
    """This process's session for `ref`, built on first use."""
    return _cached_session(ref, _PINNED_THREADS or threads, model_home, inference(precision))


@cache
def _cached_session(ref: ModelRef, threads: int, model_home: str, label: str):
    # rembg loads model files only from inside its home; packshot's model cache is that home.
    os.environ["U2NET_HOME"] = model_home
    options, chosen = session_options(threads), providers(label, threads)
    if ref.runtime == "imgly-isnet":
        session = ImglyIsnetSession(ref, options, chosen)
    else:
        from rembg import new_session

        # Named, or rembg picks OpenVINO at its default precision whenever it is installed.
        session = new_session(ref.name, sess_opts=options, providers=chosen)
    running = session.inner_session.get_providers()[0]
    if label == BFLOAT16_OPENVINO and running != OPENVINO:  # onnxruntime falls back quietly
        raise RuntimeError(
            f"onnxruntime could not start its OpenVINO provider for {ref.name} and fell back to "
            f"{running}; set PACKSHOT_MODEL__PRECISION=float32 to run there on purpose"
        )
    return session
