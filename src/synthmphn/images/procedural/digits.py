"""Digits 0-9 from two sources: TrueType glyphs (matplotlib's bundled fonts) and a hand-stroke model.

Font glyphs give typographic variety (each style owns its font families); the stroke model gives
handwriting-like digits (pen strokes with wobble, slant, open/closed variants), which is what transfers
to real handwritten digits such as scikit-learn's 8x8 set.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from synthmphn.images.procedural.shapes import Part, ellipse_points, linear_map, rasterize

PI = math.pi
GLYPH = 96  # cached glyph canvas side (px)
GLYPH_HEIGHT = 0.84  # glyph height as a share of the canvas
DIGIT_HEIGHT = 0.9  # half-height of a digit in unit coordinates (a digit spans y in [-0.9, 0.9])

DIGIT_FONTS = (
    "DejaVuSans", "DejaVuSans-Bold", "DejaVuSans-Oblique", "DejaVuSans-BoldOblique",
    "DejaVuSansMono", "DejaVuSansMono-Bold", "DejaVuSansMono-Oblique", "DejaVuSansMono-BoldOblique",
    "DejaVuSerif", "DejaVuSerif-Bold", "DejaVuSerif-Italic", "DejaVuSerif-BoldItalic",
    "STIXGeneral", "STIXGeneralBol", "STIXGeneralItalic", "STIXGeneralBolIta",
    "cmr10", "cmb10", "cmss10", "cmti10", "cmtt10", "cmmi10",
)  # fmt: skip
"""matplotlib fonts (file stems) whose digits render; cmex10/cmsy10 and the STIX size variants do not."""


@lru_cache(maxsize=1)
def font_dir() -> Path:
    """matplotlib's TrueType folder, found without importing matplotlib (which costs ~0.3 s)."""
    spec = importlib.util.find_spec("matplotlib")
    if spec is not None and spec.submodule_search_locations:
        candidate = Path(next(iter(spec.submodule_search_locations))) / "mpl-data" / "fonts" / "ttf"
        if candidate.is_dir():
            return candidate
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


@lru_cache(maxsize=64)
def _font(stem: str) -> ImageFont.FreeTypeFont:
    path = font_dir() / f"{stem}.ttf"
    if not path.is_file():
        raise FileNotFoundError(f"digit font {stem!r} not found at {path}; known: {', '.join(DIGIT_FONTS)}")
    return ImageFont.truetype(str(path), 100)


@lru_cache(maxsize=2048)
def glyph(font: str, digit: int, weight: int) -> Image.Image:
    """The digit's glyph as an 'L' image, GLYPH px square, centred, height GLYPH_HEIGHT*GLYPH.

    weight: 0 is the font's own weight, 1/2 thicken the strokes (outline stroke). Thinning by erosion
    is deliberately not offered: it breaks the hairlines of serif fonts at small sizes.
    """
    big = Image.new("L", (200, 200), 0)
    stroke = 3 * weight
    ImageDraw.Draw(big).text(
        (100, 100), str(digit), font=_font(font), fill=255, anchor="mm", stroke_width=stroke, stroke_fill=255
    )
    box = big.getbbox()
    if box is None:
        raise ValueError(f"font {font!r} has no glyph for digit {digit}")
    crop = big.crop(box)
    target_h = GLYPH * GLYPH_HEIGHT
    scale = min(target_h / crop.height, target_h / crop.width)
    w, h = max(1, round(crop.width * scale)), max(1, round(crop.height * scale))
    out = Image.new("L", (GLYPH, GLYPH), 0)
    out.paste(crop.resize((w, h), Image.Resampling.LANCZOS), ((GLYPH - w) // 2, (GLYPH - h) // 2))
    return out


def font_digit_mask(
    digit: int, font: str, weight: int, canvas: int, diameter: float, matrix: np.ndarray
) -> np.ndarray:
    """A glyph warped by `matrix` onto a `canvas`-px mask, digit height = DIGIT_HEIGHT * diameter."""
    target_h = DIGIT_HEIGHT * diameter
    scale = target_h / (GLYPH * GLYPH_HEIGHT)
    side = max(4, round(GLYPH * scale))
    small = glyph(font, digit, weight).resize((side, side), Image.Resampling.BILINEAR, reducing_gap=2.0)
    # Output pixel p -> glyph pixel: c_g + (side/GLYPH scale already applied) M^-1 (p - c_out).
    inv = np.linalg.inv(matrix.astype(np.float64))
    c_out = canvas / 2.0
    c_in = side / 2.0
    a, b = inv[0]
    d, e = inv[1]
    coeffs = (a, b, c_in - a * c_out - b * c_out, d, e, c_in - d * c_out - e * c_out)
    warped = small.transform(
        (canvas, canvas), Image.Transform.AFFINE, coeffs, resample=Image.Resampling.BILINEAR
    )
    return np.asarray(warped, dtype=np.float32) * (1.0 / 255.0)


def _arc(cx: float, cy: float, rx: float, ry: float, t0: float, t1: float, n: int = 20) -> np.ndarray:
    return ellipse_points(cx, cy, rx, ry, t0, t1, n=n)


def _pts(*points: tuple[float, float]) -> np.ndarray:
    return np.asarray(points, dtype=np.float32)


def hand_strokes(digit: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Pen strokes (polylines in unit coordinates) for a digit, with a random choice among the variants
    people write (MNIST's: plain or flagged 1, open or closed 4, crossed 7, curly 2, looped or stick 9...)."""
    u = rng.random(4)
    if digit == 0:
        rx, tilt = 0.38 + 0.18 * u[0], 0.25 * (u[2] - 0.5)
        loop = _arc(0, 0, rx, 0.88, -PI / 2, 1.5 * PI + 0.25 * u[1], n=40)
        return [loop + np.stack([tilt * loop[:, 1], np.zeros(len(loop))], axis=1).astype(np.float32)]
    if digit == 1:
        lean = 0.16 * (u[2] - 0.5)
        strokes = [_pts((0.04 + lean, -0.9), (-0.02 - lean, 0.9))]
        if u[0] < 0.35:
            strokes.append(_pts((-0.3, -0.55 + 0.2 * u[3]), (0.04 + lean, -0.9)))
        if u[1] < 0.12:
            strokes.append(_pts((-0.3, 0.9), (0.3, 0.9)))
        return strokes
    if digit == 2:
        top = _arc(0, -0.42, 0.46, 0.46, -0.95 * PI, 0.15 * PI + 0.1 * u[2])
        if u[0] < 0.3:  # curly 2: a small loop where the diagonal meets the base
            loop = _arc(-0.36, 0.74, 0.16, 0.14, -0.5 * PI, 1.5 * PI, n=14)
            return [np.concatenate([top, _pts((-0.36, 0.6)), loop, _pts((0.55, 0.86))])]
        base = 0.86 + 0.06 * (u[1] - 0.5)
        return [np.concatenate([top, _pts((-0.5, base), (0.55, base - 0.06 * u[3]))])]
    if digit == 3:
        if u[0] < 0.25:  # flat-topped 3
            lower = _arc(0, 0.38, 0.48, 0.48, -0.6 * PI, 0.85 * PI)
            return [np.concatenate([_pts((-0.45, -0.86), (0.45, -0.86), (-0.05, -0.12)), lower])]
        upper = _arc(0, -0.45, 0.38 + 0.06 * u[1], 0.42, -0.9 * PI, 0.5 * PI)
        lower = _arc(0, 0.42, 0.46 + 0.06 * u[2], 0.46, -0.5 * PI, 0.9 * PI)
        return [np.concatenate([upper, lower])]
    if digit == 4:
        cross = 0.25 + 0.2 * u[1]
        if u[0] < 0.45:  # closed 4
            return [_pts((0.3, 0.9), (0.3, -0.9), (-0.58, cross), (0.6, cross))]
        return [_pts((-0.42, -0.88), (-0.5, cross), (0.6, cross)), _pts((0.3 + 0.1 * u[2], -0.6), (0.3, 0.9))]
    if digit == 5:
        head = _pts((0.52, -0.86), (-0.32, -0.86), (-0.42, -0.1))
        bowl = _arc(0, 0.36, 0.5, 0.5, -0.7 * PI, 0.8 * PI + 0.1 * u[1])
        if u[0] < 0.4:  # flag drawn as a separate stroke
            return [_pts((-0.32, -0.86), (0.52, -0.86)), np.concatenate([head[1:], bowl])]
        return [np.concatenate([head, bowl])]
    if digit == 6:
        stem = _arc(0.15 + 0.1 * u[1], 0.3, 0.62, 1.1 + 0.2 * u[2], -0.45 * PI, -PI)
        loop = _arc(0, 0.42, 0.44 + 0.06 * u[0], 0.44, PI, 3 * PI, n=30)
        return [np.concatenate([stem, loop])]
    if digit == 7:
        foot = -0.1 + 0.25 * (u[1] - 0.5)
        strokes = [_pts((-0.5, -0.86 + 0.1 * u[2]), (0.52, -0.86), (foot, 0.9))]
        if u[0] < 0.2:
            strokes.append(_pts((-0.18, 0.0), (0.38, 0.0)))
        return strokes
    if digit == 8:
        if u[0] < 0.5:  # one continuous figure-eight stroke
            t = np.linspace(0, 2 * PI, 60, dtype=np.float32)
            return [np.stack([0.42 * np.sin(2 * t), -0.88 * np.cos(t)], axis=1).astype(np.float32)]
        return [
            _arc(0, -0.46, 0.34 + 0.06 * u[1], 0.4, 0.5 * PI, 2.5 * PI, n=30),
            _arc(0, 0.42, 0.44 + 0.06 * u[2], 0.46, -0.5 * PI, 1.5 * PI, n=30),
        ]
    if digit == 9:
        loop = _arc(0, -0.42, 0.44, 0.42, 0, 2 * PI, n=30)
        if u[1] < 0.35:  # curved tail
            return [loop, _arc(-0.1, -0.42, 0.55, 1.3, 0.0, 0.5 * PI, n=16)]
        bend = 0.12 * (u[0] - 0.3)
        return [loop, _pts((0.44, -0.42), (0.42 + bend, 0.3), (0.3, 0.9))]
    raise ValueError(f"digit must be 0..9, got {digit}")


def hand_digit_parts(digit: int, rng: np.random.Generator, width: float, wobble: float) -> tuple[Part, ...]:
    """The hand-stroke digit as line parts, each point displaced by a smooth random wobble (unit coords)."""
    phases = rng.uniform(0, 2 * PI, size=4)
    freqs = rng.uniform(2.0, 4.0, size=2)
    parts = []
    for stroke in hand_strokes(digit, rng):
        x, y = stroke[:, 0], stroke[:, 1]
        dx = wobble * np.sin(freqs[0] * y + phases[0]) + 0.5 * wobble * np.sin(5.3 * y + phases[2])
        dy = wobble * np.sin(freqs[1] * x + phases[1]) + 0.5 * wobble * np.sin(4.7 * x + phases[3])
        pts = np.stack([x + dx, y + dy], axis=1).astype(np.float32) * 0.95
        parts.append(Part("line", pts, width=width))
    return tuple(parts)


@dataclass(frozen=True)
class DigitStyle:
    """How a style draws digits: its fonts, share of hand-drawn digits, and the spread of each variation."""

    fonts: tuple[str, ...]
    hand_share: float = 0.3
    hand_width: tuple[float, float] = (0.14, 0.26)  # pen width, unit coordinates
    font_weights: tuple[int, ...] = (0, 1)  # 0 = the font's weight, 1/2 = bolder
    slant: float = 0.15  # max |horizontal shear|
    rotation: float = 10.0  # max |degrees|
    aspect: tuple[float, float] = (0.85, 1.15)
    wobble: float = 0.04  # hand-stroke wobble amplitude (unit coordinates)


def digit_mask(
    digit: int,
    style: DigitStyle,
    rng: np.random.Generator,
    canvas: int,
    diameter: float,
    min_width: float = 1.0,
) -> np.ndarray:
    """One digit instance: hand strokes (at least `min_width` px wide) or a glyph, randomly slanted,
    rotated and stretched."""
    matrix = linear_map(
        rotation_deg=rng.uniform(-style.rotation, style.rotation),
        shear=rng.uniform(-style.slant, style.slant),
        aspect=rng.uniform(*style.aspect),
    )
    if rng.random() < style.hand_share:
        width = rng.uniform(*style.hand_width)
        parts = hand_digit_parts(digit, rng, width, style.wobble)
        return rasterize(parts, canvas, diameter, matrix, min_width)
    font = style.fonts[int(rng.integers(len(style.fonts)))]
    weight = style.font_weights[int(rng.integers(len(style.font_weights)))]
    return font_digit_mask(digit, font, weight, canvas, diameter, matrix)
