from __future__ import annotations

import pytest
from pydantic import ValidationError

from schemas.settings import PackshotSettings


def test_storage_notify_and_events_settings_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PACKSHOT_STORAGE__SSE", "aws:kms")
    monkeypatch.setenv("PACKSHOT_STORAGE__KMS_KEY_ID", "alias/packshot")
    monkeypatch.setenv("PACKSHOT_STORAGE__TAGS", '{"team": "media"}')
    monkeypatch.setenv("PACKSHOT_NOTIFY__WEBHOOK_URL", "https://shop.example/hooks")
    monkeypatch.setenv("PACKSHOT_NOTIFY__WEBHOOK_SECRET", "s3cr3t-value")
    monkeypatch.setenv("PACKSHOT_EVENTS__BATCH_SIZE", "32")
    monkeypatch.setenv("PACKSHOT_EVENTS__WINDOW_SECONDS", "2.5")
    settings = PackshotSettings()
    assert (settings.storage.sse, settings.storage.kms_key_id) == ("aws:kms", "alias/packshot")
    assert settings.storage.tags == {"team": "media"}
    assert settings.notify.webhook_secret.get_secret_value() == "s3cr3t-value"
    assert "s3cr3t-value" not in repr(settings) and "s3cr3t-value" not in settings.model_dump_json()
    assert (settings.events.batch_size, settings.events.window_seconds) == (32, 2.5)


def test_defaults_encrypt_and_bounds_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = PackshotSettings()
    assert settings.storage.sse == "AES256" and settings.notify.webhook_url is None
    for name, value in [
        ("PACKSHOT_STORAGE__SSE", "none"),
        ("PACKSHOT_EVENTS__WAIT_SECONDS", "21"),  # SQS long polls last at most 20 s
        ("PACKSHOT_NOTIFY__RETRIES", "-1"),
    ]:
        monkeypatch.setenv(name, value)
        with pytest.raises(ValidationError):
            PackshotSettings()
        monkeypatch.delenv(name)


def test_every_new_field_says_what_it_is() -> None:
    for section in ("storage", "notify", "events"):
        model = type(getattr(PackshotSettings(), section))
        assert all(field.description for field in model.model_fields.values()), section
