"""Drawn portraits for the demo's Tremblay family (never photos of real people), approved, so
staff see on the board who picks up whom. Drawn with Pillow, the same every time."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from .core.models import Child, Guardian
from .photos.service import photo_path, store

SIZE = 480


@dataclass(frozen=True)
class Look:
    background: str
    skin: str
    hair: str
    shirt: str
    long_hair: bool = False
    child: bool = False
    glasses: bool = False
    beard: bool = False
    grey: bool = False


# By the management system's id (children) or the email (adults): who looks like what.
LOOKS: dict[str, Look] = {
    "parent@example.org": Look("#cfe8ff", "#f1c7a5", "#6b3e26", "#c2410c", long_hair=True),
    "denise.tremblay@example.org": Look(
        "#e6f4e6", "#eec3a3", "#c9c9c9", "#6d28d9", long_hair=False, glasses=True, grey=True
    ),
    "C-LEA": Look("#fff1c2", "#f5cfb0", "#a5632d", "#db2777", long_hair=True, child=True),
    "C-NOAH": Look("#ffe0d6", "#e8b48f", "#2b1d14", "#0e7490", child=True),
}


def draw_portrait(look: Look) -> bytes:
    """A friendly drawn face, head and shoulders, as a JPEG."""
    image = Image.new("RGB", (SIZE, SIZE), look.background)
    pen = ImageDraw.Draw(image)
    c = SIZE // 2
    head_w, head_h = (150, 165) if look.child else (160, 190)
    top = 120 if look.child else 95
    # Long hair falls behind the shoulders.
    if look.long_hair:
        pen.rounded_rectangle(
            (c - head_w // 2 - 30, top + 40, c + head_w // 2 + 30, top + 300),
            radius=60,
            fill=look.hair,
        )
    # Shoulders and neck.
    pen.ellipse((c - 190, SIZE - 150, c + 190, SIZE + 170), fill=look.shirt)
    pen.rectangle((c - 35, top + head_h - 20, c + 35, SIZE - 120), fill=look.skin)
    pen.polygon([(c - 35, SIZE - 140), (c + 35, SIZE - 140), (c, SIZE - 100)], fill=look.skin)
    # Head, ears.
    left, right, bottom = c - head_w // 2, c + head_w // 2, top + head_h
    pen.ellipse((left - 16, top + 70, left + 14, top + 115), fill=look.skin)
    pen.ellipse((right - 14, top + 70, right + 16, top + 115), fill=look.skin)
    pen.ellipse((left, top, right, bottom), fill=look.skin)
    # Hair on top.
    if look.grey:
        pen.chord((left - 10, top - 25, right + 10, top + 120), 180, 360, fill=look.hair)
        for dx in (-60, -20, 20, 60):
            pen.ellipse((c + dx - 34, top - 30, c + dx + 34, top + 30), fill=look.hair)
    else:
        pen.chord((left - 8, top - 20, right + 8, top + 110), 180, 360, fill=look.hair)
        pen.pieslice((left - 8, top - 10, c + 30, top + 90), 180, 300, fill=look.hair)
    # Eyes, brows, nose, smile, cheeks.
    eye_y = top + head_h * 0.48
    for dx in (-36, 36):
        pen.ellipse((c + dx - 11, eye_y - 13, c + dx + 11, eye_y + 13), fill="#ffffff")
        pen.ellipse((c + dx - 7, eye_y - 8, c + dx + 7, eye_y + 8), fill="#2b2118")
        brow = "#8a8a8a" if look.grey else look.hair
        pen.arc((c + dx - 20, eye_y - 34, c + dx + 20, eye_y - 6), 200, 340, fill=brow, width=6)
    if look.glasses:
        for dx in (-36, 36):
            pen.ellipse(
                (c + dx - 26, eye_y - 22, c + dx + 26, eye_y + 22), outline="#1f2937", width=5
            )
        pen.line((c - 10, eye_y, c + 10, eye_y), fill="#1f2937", width=5)
    pen.arc((c - 10, eye_y + 10, c + 10, eye_y + 45), 60, 180, fill="#b07a5a", width=4)
    mouth_y = top + head_h * 0.72
    pen.chord((c - 34, mouth_y - 18, c + 34, mouth_y + 22), 10, 170, fill="#9f1239")
    for dx in (-55, 55):
        pen.ellipse((c + dx - 16, mouth_y - 22, c + dx + 16, mouth_y - 2), fill="#f4a3a3")
    if look.beard:
        pen.chord((left + 10, top + head_h * 0.55, right - 10, bottom + 20), 0, 180, fill=look.hair)
    # Head and shoulders fill the frame: small thumbnails stay recognizable.
    image = image.crop((70, 45, 410, 385)).resize((SIZE, SIZE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    return out.getvalue()


async def ensure_portraits(session: AsyncSession, photos_dir: Path) -> int:
    """Give the demo family its approved portraits where one is missing (a fresh demo, or a
    new `var/` for the same database). Returns how many were drawn. The caller commits."""
    drawn = 0
    children = (
        await session.execute(select(Child).where(col(Child.external_id).in_(LOOKS)))
    ).scalars()
    adults = (
        await session.execute(select(Guardian).where(col(Guardian.email).in_(LOOKS)))
    ).scalars()
    for person in [*children, *adults]:
        key = person.external_id if isinstance(person, Child) else person.email
        if person.photo is not None and photo_path(photos_dir, person.photo).exists():
            continue
        person.photo = store(photos_dir, draw_portrait(LOOKS[key]))
        session.add(person)
        drawn += 1
    return drawn
