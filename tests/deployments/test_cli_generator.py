"""`packshot generator serve` answers the plug-in protocol as a separate process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from schemas.settings import GeneratorSettings
from tasks.creatives.generator import BackgroundRequest, GeneratorClient
from tests.tasks.creatives.test_generator import _request


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_served_generator_paints_a_background() -> None:
    port = _free_port()
    packshot = str(Path(sys.executable).with_name("packshot"))
    command = [packshot, "generator", "serve", "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        assert "generator on http://127.0.0.1:" in process.stdout.readline()
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).json()
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert health == {"ok": True, "generator": "packshot-reference/1"}
        url = f"http://127.0.0.1:{port}/v1/background"
        with GeneratorClient(GeneratorSettings(url=url)) as client:
            request: BackgroundRequest = _request()
            answer = client.generate(request)
        assert answer.image is not None and answer.image.size == request.cutout.size
    finally:
        process.terminate()
        process.wait(timeout=10)
