"""The batch's trust step: confidence on every row, evidence on every output, the routing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schemas.catalog import Outcome, Reason
from schemas.models import ModelRef
from schemas.presets import ComplianceCheck, get_preset, load_presets
from schemas.run import BatchJob
from tasks.batch import run_batch
from tasks.quarantine import QUARANTINE_PREFIX
from tasks.trust import REVIEW_PREFIX, published_key, review_key
from tests.support.images import encoded, product_photo
from tests.support.jobs import preset_fields

KEYS = ["bag.jpg", "shelf/shoe.png"]


def _preset(monkeypatch: pytest.MonkeyPatch, name: str, **compliance: object) -> str:
    """amazon-main under another name with these compliance settings, as a preset file gives."""
    base = get_preset("amazon-main")
    rules = base.compliance.model_copy(update=compliance)
    monkeypatch.setitem(
        load_presets(), name, base.model_copy(update={"name": name, "compliance": rules})
    )
    return name


def _job(tmp_path: Path, ref: ModelRef, home: Path, *presets: str) -> BatchJob:
    source = tmp_path / "in"
    for index, key in enumerate(KEYS):
        (source / key).parent.mkdir(parents=True, exist_ok=True)
        (source / key).write_bytes(encoded(product_photo((900 + 20 * index, 700))))
    return BatchJob(
        run_id="trust-run",
        batch=0,
        source=str(source),
        source_keys=KEYS,
        destination=str(tmp_path / "out"),
        catalog=str(tmp_path / "out" / "catalog"),
        **preset_fields(KEYS, *presets),
        model=ref,
        model_home=str(home),
        onnx_threads=1,
        max_pixels=20_000_000,
    )


def test_outputs_in_doubt_wait_under_review_and_the_rest_ship(
    tmp_path: Path, tiny_ref: ModelRef, model_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doubt = _preset(monkeypatch, "doubt-all", review_below_confidence=1.0)
    rows = run_batch(_job(tmp_path, tiny_ref, model_home, "amazon-main", doubt))
    by = {(r.source_key, r.preset): r for r in rows}
    for key in KEYS:
        shipped, waiting = by[(key, "amazon-main")], by[(key, doubt)]
        assert shipped.status == Outcome.PROCESSED
        assert waiting.status == Outcome.NEEDS_REVIEW
        assert 0.0 < shipped.confidence < 1.0 and shipped.confidence == waiting.confidence
        assert set(json.loads(shipped.confidence_signals)) >= {"uncertain_share", "pieces"}
        codes = {f["code"]: f for f in json.loads(waiting.compliance)}
        assert codes["low_confidence"]["severity"] == "review"
        assert {f["severity"] for f in json.loads(shipped.compliance)} <= {"pass", "warn"}
        (out,) = waiting.output_keys
        assert f"/{REVIEW_PREFIX}/{doubt}/" in out and Path(out).is_file()
        assert not Path(out.replace(f"{REVIEW_PREFIX}/", "")).exists()
        assert Path(shipped.output_keys[0]).is_file()
    assert not (tmp_path / "out" / QUARANTINE_PREFIX).exists()


def test_a_compliance_rejection_rejects_and_quarantines(
    tmp_path: Path, tiny_ref: ModelRef, model_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    never = ComplianceCheck(limit=2.0, severity="reject", rule="a preset that wants fill > 100%")
    strict = _preset(monkeypatch, "never-full", min_product_fill=never)
    rows = run_batch(_job(tmp_path, tiny_ref, model_home, strict))
    assert {(r.status, r.reason) for r in rows} == {(Outcome.REJECTED, Reason.FILL_LOW)}
    assert all("fill_low" in r.detail and r.output_keys == [] for r in rows)
    assert (tmp_path / "out" / QUARANTINE_PREFIX / "bag.jpg").is_file()
    assert not (tmp_path / "out" / strict).exists()


def test_review_keys_round_trip() -> None:
    assert review_key("amazon-main/a/b.jpg") == "_review/amazon-main/a/b.jpg"
    assert published_key(review_key("amazon-main/a/b.jpg")) == "amazon-main/a/b.jpg"
