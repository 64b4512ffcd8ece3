"""A preset's rules applied to measurements: rejections and warnings, as reason codes."""

from __future__ import annotations

from schemas.catalog import Reason, WarningCode
from schemas.presets import Preset
from tasks.imaging.decode import Decoded, Rejection
from tasks.imaging.inspect import (
    BLANK_STD,
    BLURRY_BELOW,
    CLIPPED_SHARE,
    ImageMetrics,
    ProductMetrics,
)


def judge_source(
    decoded: Decoded, metrics: ImageMetrics, preset: Preset
) -> tuple[Rejection | None, list[str]]:
    """The first rejection a source earns (if any) and its warnings."""
    rules = preset.rules
    longest = max(decoded.width, decoded.height)
    size = f"{decoded.width}x{decoded.height}"
    if metrics.alpha_max == 0:
        return Rejection(Reason.FULLY_TRANSPARENT, "every pixel is fully transparent"), []
    if metrics.grey_std < BLANK_STD:
        return Rejection(
            Reason.BLANK_IMAGE, f"one flat colour (grey std {metrics.grey_std:.2f})"
        ), []
    if longest < rules.min_source_side.value:
        return Rejection(
            Reason.TOO_SMALL,
            f"{size}: the longer side is {longest} px, {preset.name} needs at least "
            f"{rules.min_source_side.value:.0f} px ({rules.min_source_side.source})",
        ), []
    ratio = rules.max_aspect_ratio
    if ratio and metrics.aspect_ratio > ratio.value:
        return Rejection(
            Reason.EXTREME_ASPECT_RATIO,
            f"{size} is {metrics.aspect_ratio:.1f}:1, over the {ratio.value:.0f}:1 limit",
        ), []
    warnings = []
    recommended = rules.recommended_source_side
    if recommended and longest < recommended.value:
        warnings.append(WarningCode.BELOW_RECOMMENDED_SIZE.value)
    if metrics.sharpness < BLURRY_BELOW:
        warnings.append(WarningCode.BLURRY.value)
    if decoded.frames > 1:
        warnings.append(WarningCode.MULTI_FRAME.value)
    return None, warnings


def judge_product(metrics: ProductMetrics) -> list[str]:
    """Warnings about the product the model found."""
    warnings = []
    if metrics.cut_off:
        warnings.append(WarningCode.PRODUCT_CUT_OFF.value)
    if metrics.highlights_clipped > CLIPPED_SHARE:
        warnings.append(WarningCode.OVEREXPOSED.value)
    if metrics.shadows_clipped > CLIPPED_SHARE:
        warnings.append(WarningCode.UNDEREXPOSED.value)
    return warnings


def judge_output(width: int, height: int, size: int, preset: Preset) -> Rejection | None:
    """A rejection when the encoded output breaks the marketplace's size limits."""
    rules = preset.rules
    if rules.max_output_bytes and size > rules.max_output_bytes.value:
        return Rejection(
            Reason.OUTPUT_TOO_LARGE,
            f"the {preset.output.format} output is {size:,} bytes, over "
            f"{rules.max_output_bytes.value:,.0f} ({rules.max_output_bytes.source})",
        )
    if rules.max_output_pixels and width * height > rules.max_output_pixels.value:
        return Rejection(
            Reason.OUTPUT_TOO_LARGE,
            f"the output is {width}x{height}, over {rules.max_output_pixels.value:,.0f} pixels",
        )
    return None
