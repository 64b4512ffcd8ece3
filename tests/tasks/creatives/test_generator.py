"""The generator plug-in path over a real HTTP server on 127.0.0.1 (the reference service)."""

from __future__ import annotations

import io
import socket

import numpy as np
import pytest
from PIL import Image

from schemas.catalog import Reason, WarningCode
from schemas.creatives import get_template
from schemas.settings import GeneratorSettings
from tasks.creatives import disclosure
from tasks.creatives.generator import BackgroundRequest, GeneratorClient
from tasks.creatives.manifest import Manifest, ManifestRow
from tasks.creatives.outputs import BatchCreatives
from tasks.creatives.reference_generator import Behaviour, ReferenceGenerator, parse_prompt
from tasks.creatives.render import place_product
from tests.tasks.creatives.helpers import product

SCENE = get_template("ad-feed-scene")
ROW = ManifestRow(sku="AB-12", key=None, title="Trekkingjacke", price="€129,00")
MANIFEST = Manifest("mem://m.csv", {}, {"AB-12": ROW})
SHA = "0" * 64


def _settings(url: str, **overrides) -> GeneratorSettings:
    fast = {"timeout_seconds": 5.0, "retries": 2, "backoff_seconds": 0.01}
    return GeneratorSettings(url=url, **(fast | overrides))


def _request(prompt: str = "warm beige wall, light wooden floor") -> BackgroundRequest:
    image, mask = product()
    placed = place_product(SCENE, image, mask)
    return BackgroundRequest(prompt, placed.on_canvas((SCENE.width, SCENE.height)), 7, SCENE.name)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_generated_creative_keeps_the_product_and_says_it_is_ai_made() -> None:
    image, mask = product()
    with ReferenceGenerator() as service:
        with BatchCreatives(MANIFEST, _settings(service.url)) as creatives:
            started = creatives.start(SCENE, "jackets/AB-12_front.jpg", image, mask, SHA)
            finished = creatives.finish(started)
    assert finished.facts["generated_pixels"] is True
    assert finished.facts["generator"] == "packshot-reference/1"
    assert finished.facts["digital_source_type"] == disclosure.COMPOSITE_WITH_AI
    assert finished.metadata == {"digital-source-type": disclosure.COMPOSITE_WITH_AI}
    assert finished.warnings == []
    written = Image.open(io.BytesIO(finished.data))
    assert written.format == "JPEG"
    assert disclosure.COMPOSITE_WITH_AI in written.info["xmp"].decode()  # read back by Pillow
    assert disclosure.read_source_type(finished.data) == disclosure.COMPOSITE_WITH_AI
    placed = started.placed
    x, y = placed.offset
    shown = np.asarray(
        finished.image.crop((x, y, x + placed.product.width, y + placed.product.height))
    )
    opaque = np.asarray(placed.product.getchannel("A")) == 255
    original = np.asarray(placed.product.convert("RGB"))
    assert (shown[opaque] == original[opaque]).all()  # the generator never touched the product
    background = np.asarray(finished.image)[5:100, 5:50]  # a corner: the generator's wall
    assert background.std() > 0.5 and tuple(background.mean((0, 1)).round()) != (250, 248, 245)


def test_without_generation_there_is_no_tag() -> None:
    image, mask = product()
    with BatchCreatives(MANIFEST, GeneratorSettings()) as creatives:  # no url: off
        finished = creatives.finish(creatives.start(SCENE, "AB-12.jpg", image, mask, SHA))
        plain = creatives.finish(
            creatives.start(get_template("ad-feed"), "AB-12.jpg", image, mask, SHA)
        )
    assert finished.warnings == [WarningCode.GENERATOR_OFF.value]
    assert finished.facts["generated_pixels"] is False and finished.facts["backdrop"] == "gradient"
    for output in (finished, plain):
        assert disclosure.read_source_type(output.data) is None
        assert "xmp" not in Image.open(io.BytesIO(output.data)).info
        assert output.metadata == {}
    assert plain.warnings == []


def test_a_photo_without_a_manifest_row_gets_a_reason_not_a_creative() -> None:
    image, mask = product()
    with BatchCreatives(MANIFEST) as creatives:
        missing = creatives.start(SCENE, "jackets/ZZ-99.jpg", image, mask, SHA)
    assert missing.reason == Reason.NO_MANIFEST_ROW and "ZZ-99" in missing.detail
    with BatchCreatives(None) as creatives:
        assert creatives.start(SCENE, "AB-12.jpg", image, mask, SHA).reason == Reason.NO_MANIFEST


def test_a_slow_generator_times_out_and_the_creative_falls_back() -> None:
    image, mask = product()
    with ReferenceGenerator(behaviour=Behaviour(delay_seconds=1.5)) as service:
        settings = _settings(service.url, timeout_seconds=0.2, retries=1)
        with BatchCreatives(MANIFEST, settings) as creatives:
            finished = creatives.finish(creatives.start(SCENE, "AB-12.jpg", image, mask, SHA))
        assert service.behaviour.served == 2  # the first try and one retry
    assert finished.warnings == [WarningCode.GENERATOR_FAILED.value]
    assert finished.facts["generated_pixels"] is False
    assert finished.facts["detail"] == "generator: timeout"
    assert disclosure.read_source_type(finished.data) is None


def test_errors_are_retried_with_backoff_until_one_answers() -> None:
    with ReferenceGenerator(behaviour=Behaviour(fail_first=2, fail_status=503)) as service:
        with GeneratorClient(_settings(service.url, retries=2)) as client:
            answer = client.generate(_request())
        assert service.behaviour.served == 3
    assert answer.image is not None and answer.warning is None


def test_a_client_error_is_not_retried() -> None:
    with ReferenceGenerator(behaviour=Behaviour(fail_first=5, fail_status=400)) as service:
        with GeneratorClient(_settings(service.url, retries=3)) as client:
            answer = client.generate(_request())
        assert service.behaviour.served == 1
    assert answer.warning == WarningCode.GENERATOR_FAILED and answer.detail == "HTTP 400"


def test_a_generator_that_is_down_opens_the_circuit() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/v1/background"
    settings = _settings(url, retries=0, breaker_failures=2, breaker_reset_seconds=60)
    with GeneratorClient(settings) as client:
        first, second, third = (client.generate(_request()) for _ in range(3))
    assert first.warning == second.warning == WarningCode.GENERATOR_FAILED
    assert first.detail == "ConnectError"
    assert third.warning == WarningCode.GENERATOR_CIRCUIT_OPEN  # not called at all


def test_the_circuit_lets_one_trial_through_after_its_reset() -> None:
    with ReferenceGenerator(behaviour=Behaviour(fail_first=2)) as service:
        settings = _settings(service.url, retries=0, breaker_failures=2, breaker_reset_seconds=0.05)
        with GeneratorClient(settings) as client:
            client.generate(_request())
            client.generate(_request())
            assert client.generate(_request()).warning == WarningCode.GENERATOR_CIRCUIT_OPEN
            import time

            time.sleep(0.1)
            assert client.generate(_request()).image is not None  # the trial, and it closes
            assert client.generate(_request()).image is not None
        assert service.behaviour.served == 4


def test_requests_run_concurrently_up_to_the_limit() -> None:
    with ReferenceGenerator(behaviour=Behaviour(delay_seconds=0.3)) as service:
        with GeneratorClient(_settings(service.url, concurrency=2)) as client:
            futures = [client.submit(_request()) for _ in range(6)]
            answers = [future.result() for future in futures]
        assert service.behaviour.peak == 2  # two at once, never more
    assert all(answer.image is not None for answer in answers)


def test_the_api_key_is_sent_and_never_shown() -> None:
    with ReferenceGenerator(behaviour=Behaviour(fail_first=1, fail_status=400)) as service:
        settings = _settings(service.url, api_key="s3cr3t-key", retries=0)
        with GeneratorClient(settings, "s3cr3t-key") as client:
            answer = client.generate(_request())
        assert service.behaviour.authorization == "Bearer s3cr3t-key"
    assert "s3cr3t" not in repr(settings) + str(settings.model_dump()) + repr(answer)


def test_the_reference_generator_reads_colour_words() -> None:
    scene = parse_prompt("dark navy wall, light oak floor, soft light from the right")
    assert scene.wall[2] > scene.wall[0] and sum(scene.wall) < 200
    assert scene.floor[0] > scene.floor[2] and scene.light_x > 0.5
    image, _ = product()
    with ReferenceGenerator() as service, GeneratorClient(_settings(service.url)) as client:
        navy = client.generate(_request("navy wall, grey floor")).image
        pink = client.generate(_request("pink wall, white floor")).image
    top = lambda image: np.asarray(image)[:200].mean((0, 1))  # noqa: E731
    assert top(navy)[2] > top(navy)[0] and top(pink)[0] > top(pink)[2]


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_the_disclosure_tag_is_read_back_from_the_written_file(tmp_path, fmt) -> None:
    from tasks.creatives.outputs import encode_creative

    template = get_template("ad-feed").model_copy(deep=True)
    template.output.format = fmt
    image = Image.new("RGB", (64, 48), (200, 100, 50))
    path = tmp_path / f"out.{fmt.lower()}"
    path.write_bytes(encode_creative(image, template, disclosure.COMPOSITE_WITH_AI))
    reopened = Image.open(path)
    reopened.load()
    packet = reopened.info["xmp"] if fmt == "JPEG" else reopened.info["XML:com.adobe.xmp"]
    packet = packet.decode() if isinstance(packet, bytes) else packet
    assert f'DigitalSourceType="{disclosure.COMPOSITE_WITH_AI}"' in packet
    assert np.asarray(reopened.convert("RGB"))[10, 10].tolist() == pytest.approx(
        [200, 100, 50], abs=3
    )
    untagged = tmp_path / f"plain.{fmt.lower()}"
    untagged.write_bytes(encode_creative(image, template, None))
    assert disclosure.read_source_type(untagged.read_bytes()) is None
