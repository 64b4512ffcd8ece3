"""Ad creatives: template + cutout (image, mask) + manifest row -> the creative image.

Pure: no storage, no network. The product is fitted into its slot from the original's pixels
(the cutout is never regenerated or retouched); a background, plain or generated, lies under
it; the manifest's text is set in its slots (layout.py) and the logo placed with its alpha.
`place_product` is split out so the generator plug-in can be sent the product where it will
stand, and the same placement used when the answer comes back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageStat

from schemas.creatives import RGB, Box, PillSlot, Template, TextSlot
from tasks.creatives.layout import TextBlock, draw_text, fit_text
from tasks.creatives.manifest import ManifestRow
from tasks.imaging.compose import cutout, foreground_box

SHADOW_OPACITY = 0.32
MIN_CONTRAST = 3.0  # WCAG's ratio for large text
LOGO_MIN_CONTRAST = 1.6  # below it a logo all but vanishes; brand colours often sit near 2
SHADOW_SCALE = 8  # the shadow is blurred at 1/8 size and scaled up: soft, and cheap


@dataclass
class Placed:
    """The product cutout (RGBA) at its size and top-left position on the template's canvas."""

    product: Image.Image
    offset: tuple[int, int]

    def on_canvas(self, size: tuple[int, int]) -> Image.Image:
        """The product alone on a transparent canvas (what the generator is sent)."""
        canvas = Image.new("RGBA", size, (0, 0, 0, 0))
        canvas.paste(self.product, self.offset)
        return canvas


@dataclass
class Creative:
    """The creative image and what the catalog row says about it."""

    image: Image.Image
    blocks: dict[str, TextBlock] = field(default_factory=dict)
    truncated: list[str] = field(default_factory=list)  # slots whose text was cut with '…'
    missing_glyphs: str = ""


def place_product(template: Template, image: Image.Image, mask: Image.Image) -> Placed:
    """The product scaled to fit its slot, centred (or standing on the slot's bottom)."""
    box = foreground_box(mask)
    if box is None:
        raise ValueError("the mask has no foreground")
    product = cutout(image.crop(box), mask.crop(box))
    slot = template.slots.product
    left, top, right, bottom = slot.pixels(template.width, template.height)
    scale = min((right - left) / product.width, (bottom - top) / product.height)
    size = (max(1, round(product.width * scale)), max(1, round(product.height * scale)))
    product = _resize(product, size)
    x = left + (right - left - size[0]) // 2
    y = bottom - size[1] if slot.anchor == "bottom" else top + (bottom - top - size[1]) // 2
    return Placed(product, (x, y))


def _resize(rgba: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Area-averaged when shrinking (no aliasing), bicubic when enlarging; OpenCV is several
    times faster than Pillow's filters here (benchmarks/RESULTS.md, creatives)."""
    shrink = size[0] < rgba.width
    method = cv2.INTER_AREA if shrink else cv2.INTER_CUBIC
    return Image.fromarray(cv2.resize(np.asarray(rgba), size, interpolation=method), "RGBA")


@cache
def _plain(size: tuple[int, int], kind: str, colours: tuple[tuple[int, int, int], ...]):
    if kind == "solid" or len(colours) == 1:
        return Image.new("RGB", size, colours[0])
    stops = np.asarray(colours, dtype=np.float32)
    where = np.linspace(0.0, 1.0, size[1], dtype=np.float32)
    knots = np.linspace(0.0, 1.0, len(stops), dtype=np.float32)
    column = np.stack([np.interp(where, knots, stops[:, c]) for c in range(3)], axis=1)
    rows = np.broadcast_to(column[:, None, :], (size[1], size[0], 3))
    return Image.fromarray((rows + 0.5).astype(np.uint8))


def plain_background(template: Template) -> Image.Image:
    """The template's own backdrop (also the fallback for a failed generation)."""
    background = template.background
    size = (template.width, template.height)
    if background.backdrop is not None:
        return _painted(size, background.backdrop).copy()
    return _plain(size, background.kind, tuple(background.colours)).copy()


@cache
def _painted(size: tuple[int, int], backdrop) -> Image.Image:
    from tasks.imaging.backdrops import paint

    return Image.fromarray(paint(backdrop, size))


def contact_shadow(canvas: Image.Image, placed: Placed) -> None:
    """A soft ellipse under the product's foot, darkening the canvas in place.

    Drawn and blurred at 1/SHADOW_SCALE size over the shadow's own region only."""
    x, y = placed.offset
    w, h = placed.product.size
    half_h = max(2.0, h * 0.035)
    blur = max(1.0, w / SHADOW_SCALE / 14)
    reach = 3 * blur * SHADOW_SCALE  # the blur's tail, in canvas pixels
    left, top = max(0, int(x - reach)), max(0, int(y + h - half_h - reach))
    right = min(canvas.width, int(x + w + reach))
    bottom = min(canvas.height, int(y + h + half_h + reach))
    if right <= left or bottom <= top:
        return
    small = Image.new("L", ((right - left) // SHADOW_SCALE + 1, (bottom - top) // SHADOW_SCALE + 1))
    ellipse = (x + w * 0.08 - left, y + h - half_h - top, x + w * 0.92 - left, y + h + half_h - top)
    ImageDraw.Draw(small).ellipse(
        [v / SHADOW_SCALE for v in ellipse], fill=round(255 * SHADOW_OPACITY)
    )
    soft = small.filter(ImageFilter.GaussianBlur(blur))
    shade = soft.resize((right - left, bottom - top), Image.Resampling.BILINEAR)
    canvas.paste((0, 0, 0), (left, top, right, bottom), shade)


def render_creative(
    template: Template,
    placed: Placed,
    row: ManifestRow,
    *,
    background: Image.Image | None = None,
    logo: Image.Image | None = None,
) -> Creative:
    """The creative: background (generated, or the template's), product, text and logo."""
    size = (template.width, template.height)
    if background is None:
        canvas = plain_background(template)
    else:
        canvas = background.convert("RGB").resize(size, Image.Resampling.BILINEAR)
    if template.slots.product.shadow and background is None:
        contact_shadow(canvas, placed)  # a generator lights its own floor
    canvas.paste(placed.product, placed.offset, placed.product)
    creative = Creative(canvas)
    _texts(creative, template, row)
    if logo is not None and template.slots.logo is not None:
        place_logo(canvas, logo, template.slots.logo)
    return creative


def _texts(creative: Creative, template: Template, row: ManifestRow) -> None:
    slots = template.slots
    draw = ImageDraw.Draw(creative.image)
    wanted = (
        ("headline", slots.headline, row.title),
        ("subline", slots.subline, row.subtitle),
        ("price", slots.price, row.price),
        ("badge", slots.badge, row.badge),
    )
    for name, slot, text in wanted:
        if slot is None or not text:
            continue
        if isinstance(slot, PillSlot):
            block = _pill(draw, template, slot, text)
        else:
            block = _text(draw, creative.image, template, slot, text)
        creative.blocks[name] = block
        if block.truncated:
            creative.truncated.append(name)
        creative.missing_glyphs += block.missing


def _text(draw, canvas: Image.Image, template: Template, slot: TextSlot, text: str) -> TextBlock:
    box = slot.pixels(template.width, template.height)
    block = fit_text(text, box, **_style(slot))
    colour = readable(canvas, box, template.brand.colour(slot.colour))
    draw_text(draw, block, colour)
    return block


def _luminance(rgb) -> float:
    """WCAG relative luminance of an sRGB colour."""
    linear = [(c / 255) / 12.92 if c <= 10 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def readable(canvas: Image.Image, box, colour: RGB) -> RGB:
    """`colour`, or white / near-black when it would not stand out from the background under
    `box` (a generated background may be dark where the brand's text is dark)."""
    ground = ImageStat.Stat(canvas.crop(box).reduce(8)).mean[:3]
    if _contrast(colour, ground) >= MIN_CONTRAST:
        return colour
    return max(((255, 255, 255), (24, 24, 27)), key=lambda rgb: _contrast(rgb, ground))


def _style(slot: TextSlot) -> dict:
    return {
        "max_size": slot.max_size,
        "min_size": slot.min_size,
        "max_lines": slot.max_lines,
        "weight": slot.weight,
        "align": slot.align,
    }


def _pill(draw: ImageDraw.ImageDraw, template: Template, slot: PillSlot, text: str) -> TextBlock:
    """Text on a rounded pill that hugs it; pill and text stay inside the slot."""
    left, top, right, bottom = slot.pixels(template.width, template.height)
    pad_y = round((bottom - top) * slot.padding / (2 * (1 + slot.padding)))
    pad_x = round(pad_y * 1.6)
    inner = (left + pad_x, top + pad_y, right - pad_x, bottom - pad_y)
    block = fit_text(text, inner, **_style(slot) | {"max_lines": 1})
    ink = block.bounds()
    shift = ((inner[3] - inner[1]) - (ink[3] - ink[1])) // 2 - (ink[1] - inner[1])
    block.positions = [(x, y + shift) for x, y in block.positions]  # centred on the pill
    width = block.widths[0] + 2 * pad_x
    x0 = {"left": left, "centre": (left + right - width) // 2, "right": right - width}[slot.align]
    block.positions = [(x0 + pad_x, y) for _, y in block.positions]
    draw.rounded_rectangle(
        (x0, top, x0 + width, bottom),
        radius=(bottom - top) // 2,
        fill=template.brand.colour(slot.fill),
    )
    draw_text(draw, block, template.brand.colour(slot.colour))
    return block


def place_logo(canvas: Image.Image, logo: Image.Image, slot: Box) -> tuple[int, int, int, int]:
    """`logo` contained in its slot, left and middle, its transparency kept; returns its box.

    A logo that would vanish into its background (a dark mark on a dark generated scene) is
    set on a plate of the contrasting colour instead; the logo's own colours never change."""
    left, top, right, bottom = slot.pixels(*canvas.size)
    scale = min((right - left) / logo.width, (bottom - top) / logo.height)
    size = (max(1, round(logo.width * scale)), max(1, round(logo.height * scale)))
    fitted = _fitted_logo(logo, size)
    y = top + (bottom - top - size[1]) // 2
    ink = ImageStat.Stat(fitted.convert("RGB"), fitted.getchannel("A")).mean
    ground = ImageStat.Stat(canvas.crop((left, y, left + size[0], y + size[1])).reduce(4)).mean
    if _contrast(ink, ground) < LOGO_MIN_CONTRAST:
        plate = max(((255, 255, 255), (24, 24, 27)), key=lambda rgb: _contrast(ink, rgb))
        pad = max(2, size[1] // 7)
        inner = (size[0] - 2 * pad, size[1] - 2 * pad)
        if min(inner) > 0:
            fitted = _fitted_logo(logo, _contain(logo.size, inner))
        ImageDraw.Draw(canvas).rounded_rectangle(
            (left, y, left + size[0], y + size[1]), radius=pad, fill=plate
        )
        offset = (left + (size[0] - fitted.width) // 2, y + (size[1] - fitted.height) // 2)
        canvas.paste(fitted, offset, fitted)
        return left, y, left + size[0], y + size[1]
    canvas.paste(fitted, (left, y), fitted)
    return left, y, left + size[0], y + size[1]


def _contain(size: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    scale = min(box[0] / size[0], box[1] / size[1])
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _contrast(a, b) -> float:
    lighter, darker = sorted((_luminance(a[:3]), _luminance(b[:3])), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


# Fitted logos by (logo, size): a run places the same logo in the same slot thousands of times.
_FITTED: dict[tuple[int, tuple[int, int]], tuple[Image.Image, Image.Image]] = {}


def _fitted_logo(logo: Image.Image, size: tuple[int, int]) -> Image.Image:
    key = (id(logo), size)
    cached = _FITTED.get(key)
    if cached is not None and cached[0] is logo:
        return cached[1]
    if len(_FITTED) > 64:
        _FITTED.clear()
    fitted = logo.convert("RGBA").resize(size, Image.Resampling.LANCZOS)
    _FITTED[key] = (logo, fitted)
    return fitted
