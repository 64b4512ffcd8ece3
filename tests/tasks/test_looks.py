"""Pure tests of the looks steps on small synthetic images (issue 14)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from schemas.catalog import Reason
from schemas.looks import (
    ContactShadow,
    DropShadow,
    Enhance,
    Harmonise,
    LinearBackdrop,
    RadialBackdrop,
    ReflectionShadow,
    SceneBackdrop,
    SceneSpec,
    SweepBackdrop,
)
from schemas.presets import Preset, get_preset, load_presets
from tasks.imaging import backdrops, scenes, shadows
from tasks.imaging.enhance import cast, enhance
from tasks.imaging.matting import estimate_foreground
from tasks.imaging.recipe import PresetError, RenderContext, RenderRefused, render, validate_presets


def _product(size=(400, 400), box=(100, 80, 300, 320), colour=(200, 40, 40)):
    image = Image.new("RGB", size, (20, 120, 30))
    image.paste(colour, box)
    mask = Image.new("L", size, 0)
    mask.paste(255, box)
    return image, mask


def _preset(name: str, **update) -> Preset:
    return get_preset(name).model_copy(update=update)


def _ring(image: np.ndarray, width: int = 2) -> np.ndarray:
    return np.concatenate(
        [
            image[:width].reshape(-1, 3),
            image[-width:].reshape(-1, 3),
            image[:, :width].reshape(-1, 3),
            image[:, -width:].reshape(-1, 3),
        ]
    )


# --- shadows ---------------------------------------------------------------------------------


def test_contact_shadow_lies_below_the_product_inside_the_frame() -> None:
    preset = _preset("studio-shadow", size=400)
    image, mask = _product()
    out = np.asarray(render(preset, RenderContext(image, mask)).image).astype(int)
    plain = np.asarray(render(_preset("amazon-main", size=400), RenderContext(image, mask)).image)
    darker = (plain.astype(int) - out).max(axis=2) > 2
    rows, cols = np.nonzero(darker)
    assert rows.size, "no shadow drawn"
    product_bottom = 200 + round(0.85 * 400 * 240 / 240) // 2  # centred, 340 px tall
    assert rows.min() >= product_bottom - 40  # near and below the contact line
    assert rows.mean() > product_bottom
    assert (_ring(out, 8) == 255).all()  # Amazon's outer ring stays exactly white


@pytest.mark.parametrize(
    "step",
    [
        ContactShadow(opacity=1.0, spread=0.5, softness=0.2),
        DropShadow(direction=90.0, elevation=10.0, distance=0.5, opacity=1.0, softness=0.2),
        DropShadow(direction=0.0, elevation=10.0, opacity=1.0),
    ],
)
def test_even_a_huge_shadow_never_reaches_the_edge_nor_darkens_the_product(step) -> None:
    preset = _preset("studio-shadow", size=400, fill=0.9, shadow=step)
    image, mask = _product()
    out = np.asarray(render(preset, RenderContext(image, mask)).image)
    assert (_ring(out, round(0.02 * 400)) == 255).all()
    product = out[30:370, 60:340]  # well inside the 0.9 x 400 product
    assert (np.abs(product.astype(int) - (200, 40, 40)) <= 1).all()


def test_shadow_layer_of_drop_falls_toward_its_direction() -> None:
    alpha = np.full((200, 100), 255, np.uint8)
    right = shadows.shadow_layer(
        DropShadow(direction=330.0, elevation=30.0, opacity=1.0, edge_clearance=0.0),
        shadows.Placement(alpha, (200, 200), (800, 800)),
    )
    assert right is not None
    layer, (x, y) = right
    weights = layer.sum(axis=0)
    centre = x + (weights * np.arange(layer.shape[1])).sum() / weights.sum()
    assert centre > 250 + 20  # the product's centre is at x = 250: the shadow falls right


def test_reflection_is_mirrored_and_fades() -> None:
    preset = _preset("studio-reflection", size=400)
    image = Image.new("RGB", (400, 400), (0, 0, 0))
    image.paste((0, 0, 255), (100, 100, 300, 200))  # blue top half
    image.paste((255, 0, 0), (100, 200, 300, 300))  # red bottom half
    mask = Image.new("L", (400, 400), 0)
    mask.paste(255, (100, 100, 300, 300))
    out = np.asarray(render(preset, RenderContext(image, mask)).image).astype(int)
    size = round(0.7 * 400)
    top = round(0.42 * 400 - size / 2)
    below = out[top + size + 2 : top + size + 40, 200]
    assert (below[:, 0] > below[:, 2]).all()  # just under the product: the red half, mirrored
    tint = 255 - below[:, 1]  # how much the white floor is coloured
    assert tint[0] > 40 and tint[-1] < tint[0] / 2  # fading with distance
    assert (_ring(out, 8) == 255).all()


# --- backdrops -------------------------------------------------------------------------------


def test_backdrops_paint_their_colours() -> None:
    size = (300, 200)
    line = backdrops.paint(LinearBackdrop(start=(0, 0, 0), end=(200, 100, 50), angle=0.0), size)
    assert line.shape == (200, 300, 3)
    assert line[100, 0].tolist() == pytest.approx([0, 0, 0], abs=2)
    assert line[100, -1].tolist() == pytest.approx([200, 100, 50], abs=2)
    glow = backdrops.paint(RadialBackdrop(inner=(250, 250, 250), outer=(50, 50, 50)), size)
    assert glow[90, 150, 0] > glow[0, 0, 0] + 50
    room = backdrops.paint(
        SweepBackdrop(wall=(240, 240, 240), floor=(100, 100, 100), horizon=0.5, curve=0.2), size
    )
    assert room[5, 10, 0] == 240 and room[-1, 10, 0] < 110
    assert (np.diff(room[:118, 0, 0].astype(int)) <= 0).all()  # wall curves into floor


# --- matting ---------------------------------------------------------------------------------


def _soft_composite(seed: int = 3):
    rng = np.random.default_rng(seed)
    height, width = 160, 160
    yy, xx = np.mgrid[0:height, 0:width]
    fore = np.dstack([200 + 40 * np.sin(xx / 9), 180 + 30 * np.cos(yy / 7), 150 + 0 * xx])
    back = np.dstack([40 + 30 * np.sin(yy / 13), 70 + 0 * xx, 20 + 20 * np.cos(xx / 11)])
    radius = np.hypot(xx - 80, yy - 80) + rng.normal(0, 3, (height, width))
    alpha = np.clip((60 - radius) / 25, 0, 1)  # opaque core, soft fur-like band, background
    alpha8 = (alpha * 255 + 0.5).astype(np.uint8)
    a = alpha8[..., None] / 255.0
    image = (a * fore + (1 - a) * back + 0.5).astype(np.uint8)
    return image, alpha8, fore


def test_matting_halves_the_colour_error_in_the_soft_band() -> None:
    image, alpha, fore = _soft_composite()
    band = (alpha >= 0.05 * 255) & (alpha <= 0.95 * 255)
    before = np.abs(image.astype(float) - fore)[band].mean()
    after = np.abs(estimate_foreground(image, alpha).astype(float) - fore)[band].mean()
    assert after <= 0.5 * before


def test_matting_leaves_opaque_pixels_untouched() -> None:
    image, alpha, _ = _soft_composite()
    out = estimate_foreground(image, alpha)
    assert (out[alpha == 255] == image[alpha == 255]).all()


# --- enhancement -----------------------------------------------------------------------------


def _neutral_product(seed: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A product with a grey body (the neutral area) and a red label."""
    rng = np.random.default_rng(seed)
    rgb = np.full((200, 200, 3), 130.0) + rng.normal(0, 20, (200, 200, 1))
    rgb[60:120, 50:150] = (190, 40, 40)
    rgb[:10], rgb[-10:] = 245, 12  # a white highlight and a dark shadow: well exposed
    neutral = np.ones((200, 200), bool)
    neutral[60:120, 50:150] = False
    return np.clip(rgb, 0, 255).astype(np.uint8), np.full((200, 200), 255, np.uint8), neutral


def test_white_balance_removes_most_of_a_blue_cast() -> None:
    rgb, alpha, neutral = _neutral_product()
    tinted = rgb.astype(float)
    tinted[..., 2] *= 1.15  # +15% blue
    tinted = np.clip(tinted, 0, 255).astype(np.uint8)
    before = cast(tinted[neutral])
    done = enhance(tinted, alpha, Enhance(white_balance=True))
    after = cast(done.pixels[neutral])
    assert before > 0.08 and after <= 0.3 * before
    assert done.white_balance > 50


def test_white_balance_on_a_neutral_product_is_close_to_none() -> None:
    rgb, alpha, neutral = _neutral_product()
    done = enhance(rgb, alpha, Enhance(white_balance=True, levels=True))
    assert done.white_balance < 10  # under 1% gain on any channel
    assert done.exposure == 1.0 and done.contrast == 1.0
    assert np.abs(done.pixels.astype(int) - rgb).mean() < 1.5


def test_enhancement_is_recorded_and_product_truth_shows_it() -> None:
    image, mask = _product(colour=(120, 120, 138))  # grey, +15% blue
    plain = render(_preset("amazon-main", size=400), RenderContext(image, mask)).facts
    assert plain["product_delta"] == 0.0 and plain["altered_by"] == []
    preset = _preset("amazon-main", size=400, enhance=Enhance(white_balance=True, sharpen=0.3))
    facts = render(preset, RenderContext(image, mask)).facts
    assert facts["altered_by"] == ["white_balance", "sharpen"]
    assert facts["enhance_white_balance"] > 50 and facts["product_delta"] > 5


def test_enhancement_is_opt_in_and_never_on_a_marketplace_main_image() -> None:
    enhanced = {name for name, preset in load_presets().items() if preset.enhance is not None}
    assert enhanced == {"shop-enhanced"}  # the one preset that asks for it by name
    assert all(load_presets()[name].marketplace == "any" for name in enhanced)


# --- product truth ---------------------------------------------------------------------------


UNALTERED = {name for name, p in load_presets().items() if p.enhance is None and not p.harmonise}


@pytest.mark.parametrize("name", sorted(UNALTERED))
def test_product_delta_is_zero_without_enhancement(name: str) -> None:
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (300, 300, 3), dtype=np.uint8)
    image = Image.fromarray(pixels)
    mask = Image.new("L", (300, 300), 0)
    mask.paste(255, (60, 50, 240, 260))
    mask.paste(128, (60, 50, 70, 260))  # a soft edge, which the matting may recolour
    preset = load_presets()[name]
    if preset.size:
        preset = preset.model_copy(update={"size": 500})
    facts = render(preset, RenderContext(image, mask)).facts
    assert facts["product_delta"] == 0.0 and facts["product_delta_p99"] == 0.0
    assert facts["altered_by"] == []


def test_an_enhancing_preset_says_what_it_changed_and_by_how_much() -> None:
    rng = np.random.default_rng(2)
    pixels = rng.integers(60, 200, (300, 300, 3), dtype=np.uint8)
    pixels[..., 2] = np.clip(pixels[..., 2] * 1.15, 0, 255)  # a blue cast
    image, mask = Image.fromarray(pixels), Image.new("L", (300, 300), 0)
    mask.paste(255, (60, 50, 240, 260))
    preset = load_presets()["shop-enhanced"].model_copy(update={"size": 500})
    facts = render(preset, RenderContext(image, mask)).facts
    assert facts["product_delta"] > 0 and "white_balance" in facts["altered_by"]


# --- scenes ----------------------------------------------------------------------------------


def _scene_folder(tmp_path, box=(0.2, 0.2, 0.8, 0.8), colour=(180, 150, 110)):
    Image.new("RGB", (600, 400), colour).save(tmp_path / "room.png")
    spec = {"image": "room.png", "box": list(box), "scale": 1.0}
    (tmp_path / "room.json").write_text(json.dumps(spec))
    return lambda key: (tmp_path / key).read_bytes()


def test_scene_places_the_product_on_its_floor_line_and_harmonises_within_bounds(
    tmp_path,
) -> None:
    read = _scene_folder(tmp_path, box=(0.3, 0.1, 0.7, 0.9))
    preset = _preset("tabletop-scene", size=400, backdrop=SceneBackdrop(spec="room.json"))
    image, mask = _product(colour=(128, 128, 128))
    done = render(preset, RenderContext(image, mask, read))
    out = np.asarray(done.image)
    assert done.facts["backdrop"] == "scene" and done.facts["shadow"] == "drop"
    # The 600x400 photo keeps its centre 400x400: x 0.3..0.7 of 600 is 80..320 there.
    product = np.abs(out.astype(int) - out[5, 5]).max(axis=2) > 30
    rows, cols = np.nonzero(product[:, 100:300])
    assert rows.max() == pytest.approx(0.9 * 400, abs=3)  # stands on the floor line
    bound = preset.harmonise
    assert abs(done.facts["harmonise_brightness"] - 1) <= bound.max_brightness + 1e-9
    assert abs(done.facts["harmonise_colour"] - 1) <= bound.max_colour + 1e-9
    assert done.facts["altered_by"] == ["harmonise"] and done.facts["product_delta"] > 0


def test_harmonise_gains_stay_within_bounds_for_any_scene() -> None:
    product = np.full((50, 50, 3), 250, np.uint8)
    alpha = np.full((50, 50), 255, np.uint8)
    step = Harmonise(strength=1.0, max_brightness=0.1, max_colour=0.05)
    for scene in ([5, 5, 5], [255, 0, 0], [0, 0, 255], [128, 128, 128]):
        around = np.full((20, 20, 3), scene, np.uint8)
        brightness, colour = scenes.harmonise_gains(product, alpha, around, step)
        assert 0.9 - 1e-6 <= brightness <= 1.1 + 1e-6
        assert (np.abs(colour - 1) <= 0.05 + 1e-6).all()


def test_a_missing_or_bad_scene_is_one_line_before_the_run(tmp_path) -> None:
    read = _scene_folder(tmp_path)
    good = _preset("tabletop-scene", backdrop=SceneBackdrop(spec="room.json"))
    validate_presets([good, get_preset("amazon-main")], read)
    missing = _preset("tabletop-scene", backdrop=SceneBackdrop(spec="nope.json"))
    with pytest.raises(PresetError, match="nope.json") as error:
        validate_presets([missing], read)
    assert "\n" not in str(error.value)
    (tmp_path / "broken.json").write_text(json.dumps({"image": "room.json", "box": [0, 0, 1, 1]}))
    broken = _preset("tabletop-scene", backdrop=SceneBackdrop(spec="broken.json"))
    with pytest.raises(PresetError, match="not a readable image"):
        validate_presets([broken], read)


def test_a_scene_box_off_the_square_output_is_refused(tmp_path) -> None:
    read = _scene_folder(tmp_path, box=(0.0, 0.2, 0.15, 0.9))  # left of the kept centre
    preset = _preset("tabletop-scene", backdrop=SceneBackdrop(spec="room.json"))
    with pytest.raises(PresetError, match="off the square output"):
        validate_presets([preset], read)
    image, mask = _product()
    with pytest.raises(RenderRefused) as refused:
        render(preset, RenderContext(image, mask, read))
    assert refused.value.reason == Reason.SCENE_UNAVAILABLE


def test_the_shipped_scene_validates() -> None:
    validate_presets(load_presets().values(), None)


def test_bad_specs_are_refused() -> None:
    with pytest.raises(ValidationError, match="inside out"):
        SceneSpec(image="a.jpg", box=(0.8, 0.2, 0.2, 0.9))
    base = get_preset("studio-shadow").model_dump()
    with pytest.raises(ValidationError, match="off-canvas"):
        Preset.model_validate({**base, "fill": 0.9, "centre_y": 0.3})
    with pytest.raises(ValidationError, match="needs a background"):
        Preset.model_validate(
            {**get_preset("transparent").model_dump(), "shadow": {"kind": "contact"}}
        )
    with pytest.raises(ValidationError):
        Preset.model_validate({**base, "shadow": {"kind": "contact", "wobble": 3}})


def test_reflection_step_has_its_kind() -> None:
    assert get_preset("studio-reflection").shadow == ReflectionShadow(opacity=0.28, fade=0.3)
