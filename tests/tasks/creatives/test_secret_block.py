"""The generator's key from a Prefect Secret block, on a real (temporary) Prefect server."""

from __future__ import annotations

from schemas.settings import GeneratorSettings
from tasks.creatives.generator import api_key


def test_the_key_comes_from_the_named_secret_block(prefect_harness, monkeypatch) -> None:
    from prefect.blocks.system import Secret

    Secret(value="block-key-123").save("packshot-generator-test", overwrite=True)
    settings = GeneratorSettings(secret_block="packshot-generator-test", api_key="env-key")
    assert api_key(settings) == "block-key-123"  # the block wins over the environment
    assert api_key(GeneratorSettings(api_key="env-key")) == "env-key"
    monkeypatch.delenv("PACKSHOT_GENERATOR__API_KEY", raising=False)
    assert api_key(GeneratorSettings()) is None
    assert "block-key" not in repr(settings) and "env-key" not in repr(settings)


def test_a_worker_takes_the_key_from_its_own_environment(monkeypatch) -> None:
    monkeypatch.setenv("PACKSHOT_GENERATOR__API_KEY", "worker-key")
    shipped = GeneratorSettings(url="http://127.0.0.1:1/v1/background")  # as a job carries it
    assert api_key(shipped) == "worker-key"
    assert "worker-key" not in shipped.model_dump_json()
