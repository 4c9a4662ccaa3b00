"""Make the board's chime (static/sounds/chime.wav): two soft bell notes, our own sound.

Run: python scripts/make_chime.py   (the output is committed; re-run only to change it)
"""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

RATE = 22_050
OUT = Path(__file__).resolve().parent.parent / "static" / "sounds" / "chime.wav"


def bell(freq: float, start: float, length: float, total: float) -> list[float]:
    samples = [0.0] * int(total * RATE)
    for i in range(int(length * RATE)):
        t = i / RATE
        envelope = math.exp(-4.0 * t) * min(1.0, t * 200)  # quick attack, bell-like decay
        # A bell is a fundamental plus inharmonic partials.
        tone = (
            math.sin(2 * math.pi * freq * t)
            + 0.45 * math.sin(2 * math.pi * freq * 2.76 * t) * math.exp(-3 * t)
            + 0.25 * math.sin(2 * math.pi * freq * 5.4 * t) * math.exp(-6 * t)
        )
        index = int(start * RATE) + i
        if index < len(samples):
            samples[index] += envelope * tone
    return samples


def main() -> None:
    total = 1.4
    high = bell(1318.5, 0.0, 1.0, total)  # E6
    low = bell(1046.5, 0.28, 1.1, total)  # C6
    mix = [h + lo for h, lo in zip(high, low, strict=True)]
    peak = max(abs(s) for s in mix)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(OUT), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(b"".join(struct.pack("<h", int(s / peak * 0.8 * 32767)) for s in mix))


if __name__ == "__main__":
    main()
