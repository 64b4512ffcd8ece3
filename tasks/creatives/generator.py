"""The background-generator plug-in's client: cutout + prompt over HTTP -> a background.

Protocol (README, "Generated backgrounds"): POST JSON `{prompt, width, height, seed, template,
cutout}` where `cutout` is a base64 PNG (RGBA, width x height, the product where it will
stand); the answer is a PNG or JPEG of width x height, optionally naming itself in
`X-Generator`. Only the background is used: the product's own pixels go on top afterwards.

Requests run on a thread pool of `concurrency` threads that the batch starts, so the model
keeps working while backgrounds are painted. Each request has a timeout and retries with
exponential backoff and jitter on network errors, 429 and 5xx; after `breaker_failures`
failures in a row a circuit breaker stops calling for `breaker_reset_seconds`, then lets one
trial through. Every failure is an answer with a warning code, never an exception: the
creative falls back to its plain background and the run goes on. The API key is sent only in
the Authorization header and never appears in a message, a log line or the catalog.
"""

from __future__ import annotations

import base64
import io
import random
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import httpx
from PIL import Image

from schemas.catalog import WarningCode
from schemas.settings import GeneratorSettings, load_settings
from tasks.imaging.png import encode_png

MAX_ANSWER_BYTES = 64 * 1024 * 1024
RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class BackgroundRequest:
    """What one creative asks the generator for."""

    prompt: str
    cutout: Image.Image  # RGBA, the canvas's size, the product where it will stand
    seed: int
    template: str


@dataclass(frozen=True)
class Background:
    """The generator's answer: an RGB background, or why there is none."""

    image: Image.Image | None
    generator: str | None = None
    warning: WarningCode | None = None
    detail: str | None = None  # for the row's detail: status code or error type, no secrets


class CircuitBreaker:
    """Closed -> open after `failures` in a row -> one trial after `reset_seconds`."""

    def __init__(self, failures: int, reset_seconds: float) -> None:
        self.failures, self.reset_seconds = failures, reset_seconds
        self._lock = threading.Lock()
        self._in_a_row = 0
        self._open_until = 0.0
        self._trial = False

    def allow(self) -> bool:
        with self._lock:
            if self._in_a_row < self.failures:
                return True
            if time.monotonic() >= self._open_until and not self._trial:
                self._trial = True  # half-open: this one call decides
                return True
            return False

    def record(self, ok: bool) -> None:
        with self._lock:
            self._trial = False
            if ok:
                self._in_a_row = 0
                return
            self._in_a_row += 1
            if self._in_a_row >= self.failures:
                self._open_until = time.monotonic() + self.reset_seconds


def api_key(settings: GeneratorSettings) -> str | None:
    """The key: from the Prefect Secret block named in settings, else from settings, else from
    this worker's own environment (PACKSHOT_GENERATOR__API_KEY). Batch jobs never carry the
    key (a Lambda payload is JSON, a Dask task is pickled), so each worker finds its own."""
    if settings.secret_block:
        from prefect.blocks.system import Secret  # only where a block is configured

        return str(Secret.load(settings.secret_block).get())
    if settings.api_key is not None:
        return settings.api_key.get_secret_value()
    own = load_settings().generator.api_key
    return own.get_secret_value() if own is not None else None


class GeneratorClient:
    """Submits background requests to the configured endpoint, `concurrency` at a time."""

    def __init__(self, settings: GeneratorSettings, key: str | None = None) -> None:
        self.settings = settings
        self.breaker = CircuitBreaker(settings.breaker_failures, settings.breaker_reset_seconds)
        self._pool = ThreadPoolExecutor(settings.concurrency, thread_name_prefix="generator")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        limits = httpx.Limits(max_connections=settings.concurrency)
        self._http = httpx.Client(headers=headers, limits=limits, timeout=settings.timeout_seconds)

    def __enter__(self) -> GeneratorClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._http.close()

    def submit(self, request: BackgroundRequest) -> Future[Background]:
        """Start `request` on the pool; the future always resolves to a Background."""
        return self._pool.submit(self.generate, request)

    def generate(self, request: BackgroundRequest) -> Background:
        """One background, with retries; blocking (the pool's threads call it)."""
        if not self.breaker.allow():
            return Background(None, warning=WarningCode.GENERATOR_CIRCUIT_OPEN)
        body = _body(request)
        detail = "no attempt"
        for attempt in range(self.settings.retries + 1):
            if attempt:
                time.sleep(self._delay(attempt))
            answer, detail, again = self._attempt(body, request)
            if answer is not None:
                self.breaker.record(True)
                return answer
            if not again:
                break
        self.breaker.record(False)
        return Background(None, warning=WarningCode.GENERATOR_FAILED, detail=detail)

    def _delay(self, attempt: int) -> float:
        base = self.settings.backoff_seconds * 2 ** (attempt - 1)
        return base * (0.5 + random.random() / 2)  # jitter: workers do not retry in step

    def _attempt(
        self, body: dict, request: BackgroundRequest
    ) -> tuple[Background | None, str, bool]:
        """(answer, detail, worth retrying)."""
        assert self.settings.url is not None
        try:
            response = self._http.post(self.settings.url, json=body)
        except httpx.TimeoutException:
            return None, "timeout", True
        except httpx.HTTPError as exc:
            return None, type(exc).__name__, True
        if response.status_code != 200:
            status = f"HTTP {response.status_code}"
            return None, status, response.status_code in RETRY_STATUS
        try:
            image = _answer_image(response.content, request.cutout.size)
        except (OSError, ValueError) as exc:
            return None, f"bad image: {exc}", False
        name = response.headers.get("X-Generator", self.settings.name)[:64]
        return Background(image, generator=name), "ok", False


def _body(request: BackgroundRequest) -> dict:
    png = encode_png(request.cutout.convert("RGBA"))
    return {
        "prompt": request.prompt,
        "width": request.cutout.width,
        "height": request.cutout.height,
        "seed": request.seed,
        "template": request.template,
        "cutout": base64.b64encode(png).decode("ascii"),
    }


def _answer_image(data: bytes, size: tuple[int, int]) -> Image.Image:
    if len(data) > MAX_ANSWER_BYTES:
        raise ValueError("answer too large")
    image = Image.open(io.BytesIO(data))
    if image.size[0] * image.size[1] > 4 * size[0] * size[1]:
        raise ValueError(f"answer is {image.size}, asked for {size}")
    image = image.convert("RGB")
    return image if image.size == size else image.resize(size, Image.Resampling.BILINEAR)
