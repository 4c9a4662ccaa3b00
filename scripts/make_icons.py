"""Make the parent app's home-screen icons (static/icons/*.png) from the Relais mark of
static/img/icon.svg: a white "R" of round strokes on the brand green. Drawn with Pillow, four
times larger then reduced, so the edges are smooth.

Run: python scripts/make_icons.py   (the output is committed; re-run only to change it)
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parent.parent / "static" / "icons"
GREEN = (11, 110, 79)  # --brand
WHITE = (255, 255, 255)
SUPERSAMPLE = 4
# The mark's strokes on icon.svg's 64×64 grid: M18 44 V20 h14 a8 8 0 0 1 0 16 h-6 l10 8.
STROKE = 6
LINES = [((18, 44), (18, 20)), ((18, 20), (32, 20)), ((32, 36), (26, 36)), ((26, 36), (36, 44))]
BOWL = (32, 28, 8)  # the right half-circle: centre x, y and radius


def draw_icon(size: int, *, maskable: bool) -> Image.Image:
    big = size * SUPERSAMPLE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if maskable:
        # Full bleed; the mark stays inside the central 80% that every mask keeps.
        draw.rectangle((0, 0, big, big), fill=GREEN)
        scale, offset = big * 0.7 / 64, big * 0.15
    else:
        draw.rounded_rectangle((0, 0, big - 1, big - 1), radius=big * 14 / 64, fill=GREEN)
        scale, offset = big / 64, 0.0

    def at(x: float, y: float) -> tuple[float, float]:
        return offset + x * scale, offset + y * scale

    width = round(STROKE * scale)
    cap = width / 2
    for start, end in LINES:
        draw.line([at(*start), at(*end)], fill=WHITE, width=width)
        for x, y in (start, end):  # round caps and joins
            cx, cy = at(x, y)
            draw.ellipse((cx - cap, cy - cap, cx + cap, cy + cap), fill=WHITE)
    cx, cy, radius = BOWL
    (left, top), (right, bottom) = (
        at(cx - radius - STROKE / 2, cy - radius - STROKE / 2),
        at(cx + radius + STROKE / 2, cy + radius + STROKE / 2),
    )
    draw.arc((left, top, right, bottom), start=-90, end=90, fill=WHITE, width=width)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for size in (192, 512):
        draw_icon(size, maskable=False).save(OUT / f"relais-{size}.png", optimize=True)
    draw_icon(512, maskable=True).save(OUT / "relais-maskable-512.png", optimize=True)


if __name__ == "__main__":
    main()
