"""Creatives inside a batch: from one image's mask to each template's file, its facts and
its object metadata, with generated backgrounds painted concurrently with the batch.

The batch holds one `BatchCreatives` per batch. For each (image, template) it calls
`start(...)` right after the mask exists: that places the product, finds the manifest row and,
when the template asks for a generated background, submits the request to the generator's
thread pool and returns at once. The batch goes on with its other images (the model is never
held); at the end it calls `finish(...)` on each started creative, which waits for the
background (or takes the plain one), composes the original product pixels on top, sets the
text and returns the encoded file with its disclosure. Nothing here raises for one image: a
missing manifest row is a `Rejection`, a failed generation a warning.
"""

from __future__ import annotations

import io
from concurrent.futures import Future
from dataclasses import dataclass, field

from PIL import Image

from schemas.catalog import Reason, WarningCode
from schemas.creatives import Template
from schemas.settings import GeneratorSettings
from tasks.creatives import disclosure
from tasks.creatives.generator import Background, BackgroundRequest, GeneratorClient
from tasks.creatives.logo import LogoError, load_logo, resolve
from tasks.creatives.manifest import Manifest, ManifestRow
from tasks.creatives.render import Placed, place_product, render_creative
from tasks.imaging.decode import Rejection
from tasks.imaging.png import encode_png


@dataclass
class Started:
    """One (image, template) creative between `start` and `finish`: only the placed product
    (slot-sized) is kept, not the original, so a batch's waiting creatives stay small."""

    template: Template
    row: ManifestRow
    placed: Placed
    background: Future[Background] | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class Finished:
    """The creative's encoded file, the catalog facts and the object's user metadata."""

    data: bytes
    image: Image.Image
    facts: dict[str, object]
    warnings: list[str]
    metadata: dict[str, str]


class BatchCreatives:
    """The batch's manifest, logo cache and generator client (None: generation is off)."""

    def __init__(
        self,
        manifest: Manifest | None,
        generator: GeneratorSettings | None = None,
        api_key: str | None = None,
    ) -> None:
        self.manifest = manifest
        on = generator is not None and generator.url is not None
        self.client = GeneratorClient(generator, api_key) if on else None  # type: ignore[arg-type]

    def __enter__(self) -> BatchCreatives:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.client is not None:
            self.client.close()

    def start(
        self, template: Template, key: str, image: Image.Image, mask: Image.Image, sha256: str
    ) -> Started | Rejection:
        """Place the product and ask for the background; a Rejection when there is no text."""
        if self.manifest is None:
            return Rejection(Reason.NO_MANIFEST, f"{template.name} needs a manifest (--manifest)")
        row = self.manifest.find(key)
        if row is None:
            return Rejection(Reason.NO_MANIFEST_ROW, f"no row for {key} in {self.manifest.url}")
        started = Started(template, row, place_product(template, image, mask))
        generate = template.background.generate
        if generate is not None and self.client is None:
            started.warnings.append(WarningCode.GENERATOR_OFF.value)
        elif generate is not None and self.client is not None:
            request = BackgroundRequest(
                generate.prompt,
                started.placed.on_canvas((template.width, template.height)),
                seed=int(sha256[:8] or "0", 16),
                template=template.name,
            )
            started.background = self.client.submit(request)
        return started

    def finish(self, started: Started) -> Finished:
        """Wait for the background, compose, set the text, encode with the disclosure."""
        template, warnings = started.template, list(started.warnings)
        answer = started.background.result() if started.background is not None else None
        if answer is not None and answer.warning is not None:
            warnings.append(answer.warning.value)
        generated = answer is not None and answer.image is not None
        logo = self._logo(started.row, template, warnings)
        creative = render_creative(
            template,
            started.placed,
            started.row,
            background=answer.image if generated else None,
            logo=logo,
        )
        if creative.truncated:
            warnings.append(WarningCode.TEXT_TRUNCATED.value)
        if creative.missing_glyphs:
            warnings.append(WarningCode.MISSING_GLYPHS.value)
        source_type = disclosure.COMPOSITE_WITH_AI if generated else None
        data = encode_creative(creative.image, template, source_type)
        facts: dict[str, object] = {
            "output_kind": "creative",
            "manifest_sku": started.row.ref,
            "generated_pixels": generated,
            "digital_source_type": source_type,
            "generator": answer.generator if generated else None,
            "backdrop": "generated" if generated else template.background.painted,
            "altered_by": [],
        }
        if answer is not None and answer.detail and not generated:
            facts["detail"] = f"generator: {answer.detail}"
        metadata = disclosure.object_metadata(source_type)
        return Finished(data, creative.image, facts, warnings, metadata)

    def _logo(self, row: ManifestRow, template: Template, warnings: list[str]):
        source = row.logo or template.brand.logo
        if source is None or template.slots.logo is None:
            return None
        base = self.manifest.url.rsplit("/", 1)[0] if row.logo and self.manifest else None
        try:
            return load_logo(resolve(source, base))
        except LogoError:
            warnings.append(WarningCode.LOGO_UNREADABLE.value)
            return None


def encode_creative(image: Image.Image, template: Template, source_type: str | None) -> bytes:
    """The creative in the template's format; the XMP disclosure only when `source_type`."""
    packet = disclosure.xmp_packet(source_type) if source_type else None
    fmt = template.output.format
    if fmt == "PNG":
        png = encode_png(image)
        return disclosure.png_with_xmp(png, packet) if packet else png
    out = io.BytesIO()
    options: dict[str, object] = {"quality": template.output.quality or 90}
    if fmt == "JPEG":
        options |= {"optimize": False, "subsampling": 0}
    if packet:
        options["xmp"] = packet
    image.convert("RGB").save(out, format=fmt, **options)
    return out.getvalue()
