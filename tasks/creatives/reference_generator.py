"""The reference background generator: a small CPU-only HTTP service speaking the plug-in
protocol (README, "Generated backgrounds"), painting procedurally instead of with a model.

It reads colour words from the prompt (`beige wall`, `wooden floor`, `light from the left`),
draws a wall and a floor meeting at the product's foot, a soft light and the product's own
cast shadow, and answers a PNG. It lets the plug-in path run end to end on a fresh machine and
in the tests over a real HTTP server, and shows the shapes a diffusion service must accept.
`packshot generator serve --port 8765` runs it.
"""

from __future__ import annotations

import base64
import io
import json
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from tasks.imaging.png import encode_png

NAME = "packshot-reference/1"
PATH = "/v1/background"
MAX_BODY = 64 * 1024 * 1024
MAX_SIDE = 4096
COLOURS: dict[str, tuple[int, int, int]] = {
    "white": (244, 244, 242),
    "ivory": (246, 241, 228),
    "cream": (243, 234, 214),
    "beige": (228, 214, 192),
    "sand": (220, 200, 168),
    "grey": (190, 192, 195),
    "gray": (190, 192, 195),
    "black": (38, 38, 42),
    "charcoal": (64, 66, 72),
    "blue": (150, 178, 214),
    "navy": (40, 56, 96),
    "teal": (96, 160, 160),
    "green": (160, 190, 150),
    "sage": (178, 192, 164),
    "olive": (150, 150, 100),
    "pink": (240, 200, 206),
    "blush": (236, 210, 206),
    "red": (196, 72, 64),
    "terracotta": (196, 120, 92),
    "orange": (236, 160, 96),
    "peach": (244, 200, 172),
    "yellow": (240, 220, 140),
    "gold": (214, 182, 110),
    "brown": (140, 100, 72),
    "wooden": (176, 132, 92),
    "wood": (176, 132, 92),
    "oak": (190, 150, 104),
    "walnut": (120, 84, 60),
    "marble": (232, 230, 226),
    "concrete": (170, 168, 164),
    "lavender": (204, 192, 226),
    "purple": (150, 110, 170),
    "mint": (190, 228, 210),
}
DEFAULT_WALL, DEFAULT_FLOOR = (232, 226, 216), (206, 196, 182)


@dataclass(frozen=True)
class Scene:
    """What the prompt asked for."""

    wall: tuple[int, int, int] = DEFAULT_WALL
    floor: tuple[int, int, int] = DEFAULT_FLOOR
    light_x: float = 0.5  # 0: light from the left, 1: from the right
    warmth: float = 0.0  # -1 cool .. 1 warm


def _shade(colour: tuple[int, int, int], words: list[str]) -> tuple[int, int, int]:
    value = np.asarray(colour, np.float32)
    if "light" in words or "pale" in words:
        value = value + (255 - value) * 0.4
    if "dark" in words or "deep" in words:
        value = value * 0.6
    return tuple(int(v) for v in np.clip(value, 0, 255))  # type: ignore[return-value]


def parse_prompt(prompt: str) -> Scene:
    """Wall and floor colours, light side and warmth from the prompt's words."""
    wall, floor = DEFAULT_WALL, DEFAULT_FLOOR
    for clause in re.split(r"[,;.]| and | with ", prompt.lower()):
        words = re.findall(r"[a-z]+", clause)
        named = [COLOURS[w] for w in words if w in COLOURS]
        if not named:
            continue
        colour = _shade(named[0], words)
        if "floor" in words or "table" in words or "surface" in words:
            floor = colour
        else:
            wall = colour
            if "floor" not in prompt.lower():
                floor = tuple(int(v * 0.88) for v in colour)  # type: ignore[assignment]
    text = prompt.lower()
    light_x = 0.2 if "left" in text else 0.8 if "right" in text else 0.5
    warmth = 1.0 if "warm" in text else -1.0 if "cool" in text or "cold" in text else 0.0
    return Scene(wall, floor, light_x, warmth)


def paint(scene: Scene, cutout: Image.Image, seed: int) -> Image.Image:
    """A wall-and-floor background for `cutout` (RGBA, the canvas's size)."""
    width, height = cutout.size
    alpha = cutout.getchannel("A")
    box = alpha.point(lambda v: 255 if v >= 128 else 0).getbbox()  # fur and haze left out
    horizon = (box[3] - max(4, (box[3] - box[1]) // 12)) if box else int(height * 0.72)
    y = np.arange(height, dtype=np.float32)[:, None]
    x = np.arange(width, dtype=np.float32)[None, :]
    wall_t = np.clip(y / max(1, horizon), 0, 1)
    floor_t = np.clip((y - horizon) / max(1, height - horizon), 0, 1)
    wall = np.asarray(scene.wall, np.float32) * (1.04 - 0.10 * wall_t[..., None])
    floor = np.asarray(scene.floor, np.float32) * (1.0 - 0.16 * floor_t[..., None])
    blend = np.clip((y - horizon) / max(2.0, height * 0.02) + 0.5, 0, 1)[..., None]
    pixels = wall * (1 - blend) + floor * blend
    lx, ly = scene.light_x * width, horizon * 0.35
    distance = np.sqrt(((x - lx) / width) ** 2 + ((y - ly) / height) ** 2)
    pixels = pixels * (0.90 + 0.18 * np.exp(-(distance**2) / 0.12))[..., None]
    pixels += np.asarray([10, 4, -8], np.float32) * scene.warmth
    noise = np.random.default_rng(seed).normal(0, 1.2, (height, width, 1))  # no banding
    image = Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8), "RGB")
    if box:
        _cast_shadow(image, alpha, box, scene.light_x)
    return image


def _cast_shadow(image: Image.Image, alpha: Image.Image, box, light_x: float) -> None:
    """The product's silhouette laid back on the floor away from the light, its foot where
    the product stands, and a darker contact shadow right under it; both blurred."""
    left, top, right, bottom = box
    w, h = right - left, bottom - top
    flat = alpha.crop(box).resize((w, max(1, h // 6)))
    shift = int((0.5 - light_x) * w * 0.3)
    layer = Image.new("L", image.size, 0)
    layer.paste(flat.point(lambda v: v * 60 // 255), (left + shift, bottom - flat.height))
    foot = max(3, h // 40)
    ImageDraw.Draw(layer).ellipse(
        (left + w * 0.1, bottom - foot, right - w * 0.1, bottom + foot), fill=110
    )
    layer = layer.filter(ImageFilter.GaussianBlur(max(2, w // 40)))
    image.paste((0, 0, 0), (0, 0), layer)


@dataclass
class Behaviour:
    """How the server misbehaves, for tests and demos: slow, failing, or both."""

    delay_seconds: float = 0.0
    fail_first: int = 0  # answer fail_status to this many requests first
    fail_status: int = 500
    served: int = 0
    in_flight: int = 0
    peak: int = 0  # most requests it held at once
    authorization: str | None = None  # the last request's header, for tests of the key
    lock: threading.Lock = field(default_factory=threading.Lock)


def _paint(data: bytes) -> bytes:
    """A request body (the protocol's JSON) -> the background as PNG bytes."""
    body = json.loads(data)
    width, height = int(body["width"]), int(body["height"])
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise ValueError(f"size {width}x{height} outside 1..{MAX_SIDE}")
    cutout = Image.open(io.BytesIO(base64.b64decode(body["cutout"]))).convert("RGBA")
    if cutout.size != (width, height):
        raise ValueError(f"cutout is {cutout.size}, expected ({width}, {height})")
    scene = parse_prompt(str(body.get("prompt", "")))
    return encode_png(paint(scene, cutout, int(body.get("seed", 0)) % 2**32))


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # no request log (no headers)
        return

    def do_GET(self) -> None:
        if self.path == "/health":
            self._send(
                200, json.dumps({"ok": True, "generator": NAME}).encode(), "application/json"
            )
        else:
            self._send(404, b"not found", "text/plain")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0") or 0)
        if not 0 < length <= MAX_BODY:
            self.close_connection = True
            return self._send(413, b"body missing or too large", "text/plain")
        body = self.rfile.read(length)  # read first: a keep-alive connection goes on after it
        if self.path != PATH:
            return self._send(404, b"not found", "text/plain")
        behaviour = self.server.behaviour
        with behaviour.lock:
            behaviour.served += 1
            behaviour.in_flight += 1
            behaviour.peak = max(behaviour.peak, behaviour.in_flight)
            behaviour.authorization = self.headers.get("Authorization")
            failing = behaviour.served <= behaviour.fail_first
        try:
            self._answer(behaviour, failing, body)
        finally:
            with behaviour.lock:
                behaviour.in_flight -= 1

    def _answer(self, behaviour: Behaviour, failing: bool, body: bytes) -> None:
        time.sleep(behaviour.delay_seconds)
        if failing:
            return self._send(behaviour.fail_status, b"failing on purpose", "text/plain")
        try:
            png = _paint(body)
        except (ValueError, KeyError, OSError) as exc:
            return self._send(400, f"bad request: {exc}".encode(), "text/plain")
        self._send(200, png, "image/png", {"X-Generator": NAME})

    def _send(self, status: int, data: bytes, kind: str, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    behaviour: Behaviour

    def handle_error(self, request, client_address) -> None:
        """A client that gave up (timed out) closed its socket: not the server's error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class ReferenceGenerator:
    """The service on host:port, served on a background thread (port 0: any free port)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, behaviour: Behaviour | None = None):
        self._server = _Server((host, port), _Handler)
        self._server.behaviour = behaviour or Behaviour()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{PATH}"

    @property
    def behaviour(self) -> Behaviour:
        return self._server.behaviour

    def __enter__(self) -> ReferenceGenerator:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def serve_forever(self) -> None:
        """Serve on this thread until interrupted (the CLI)."""
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()
