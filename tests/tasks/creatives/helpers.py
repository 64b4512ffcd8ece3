"""Tiny synthetic products for the creatives' pure tests."""

from __future__ import annotations

from PIL import Image, ImageDraw


def product(size: tuple[int, int] = (600, 800)) -> tuple[Image.Image, Image.Image]:
    """A striped 'bottle' on a grey room, and its exact mask."""
    image = Image.new("RGB", size, (120, 130, 140))
    mask = Image.new("L", size, 0)
    body = (size[0] // 4, size[1] // 6, size[0] * 3 // 4, size[1] * 11 // 12)
    draw = ImageDraw.Draw(image)
    for index, y in enumerate(range(body[1], body[3], 12)):
        draw.rectangle(
            (body[0], y, body[2], y + 11), fill=((200, 40, 40), (30, 60, 200))[index % 2]
        )
    ImageDraw.Draw(mask).rectangle(body, fill=255)
    return image, mask
