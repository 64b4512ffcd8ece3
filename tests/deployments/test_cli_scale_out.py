from __future__ import annotations

from pathlib import Path

import pytest

from deployments.cli import main


def test_engine_lambda_without_a_function_cannot_start(
    tmp_path: Path,
    model_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PACKSHOT_MODEL__HOME", str(model_home))
    monkeypatch.delenv("PACKSHOT_AWS_LAMBDA__FUNCTION", raising=False)
    (tmp_path / "in").mkdir()
    model = str(model_home / "custom" / "tiny-isnet.onnx")
    with pytest.raises(SystemExit) as exit_info:
        main(["process", str(tmp_path / "in"), str(tmp_path / "out"), "--model", model,
              "--engine", "lambda"])  # fmt: skip
    assert exit_info.value.code == 2
    assert "--engine lambda needs --lambda-function" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # nothing ran
