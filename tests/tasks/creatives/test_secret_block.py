"""The generator's key from a Prefect Secret block, on a real (temporary) Prefect server."""

from __future__ import annotations

from schemas.settings import GeneratorSettings
from tasks.creatives.generator import api_key


def test_the_key_comes_from_the_named_secret_block(prefect_harness) -> None:
    from prefect.blocks.system import Secret

    Secret(value="block-key-123").save("packshot-generator-test", overwrite=True)
    settings = GeneratorSettings(secret_block="packshot-generator-test", api_key="env-key")
    assert api_key(settings) == "block-key-123"  # the block wins over the environment
    assert api_key(GeneratorSettings(api_key="env-key")) == "env-key"
    assert api_key(GeneratorSettings()) is None
    assert "block-key" not in repr(settings) and "env-key" not in repr(settings)
