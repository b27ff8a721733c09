"""Painting background recipes onto a float RGB canvas, at a style-chosen level of detail.

`detail` in [0, 1]: 0 keeps only the scene's main colours (flat vector look), 1 adds grain, blades,
waves, stars and planks (photo look). Every random choice uses the generator passed in.
"""

from __future__ import annotations

import colorsys

import numpy as np
from PIL import Image

from synthmphn.images.procedural.palette import Background
from synthmphn.images.procedural.raster import grid, smooth_noise, solid


def _col(rgb: tuple[float, ...] | np.ndarray) -> np.ndarray:
    return np.asarray(rgb, dtype=np.float32)[:, None, None]


def _lerp(a: tuple[float, ...], b: tuple[float, ...], t: np.ndarray) -> np.ndarray:
    """[3, H, W]: colour a where t = 0, b where t = 1."""
    return _col(a) + (_col(b) - _col(a)) * t


def _vertical(top: tuple[float, ...], bottom: tuple[float, ...], res: int, tilt: float = 0.0) -> np.ndarray:
    y, x = grid(res, res)
    return _lerp(top, bottom, np.clip(y + tilt * (x - 0.5), 0.0, 1.0))


def random_gradient_colours(rng: np.random.Generator) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Two harmonious colours for the 'gradient' background (hues at most a third of the wheel apart)."""
    h = rng.random()
    h2 = (h + rng.uniform(0.08, 0.33)) % 1.0
    c1 = colorsys.hsv_to_rgb(h, rng.uniform(0.3, 0.7), rng.uniform(0.75, 1.0))
    c2 = colorsys.hsv_to_rgb(h2, rng.uniform(0.3, 0.7), rng.uniform(0.55, 0.9))
    return c1, c2


def paint_background(bg: Background, rng: np.random.Generator, res: int, detail: float) -> np.ndarray:
    """The background as float32 [3, res, res] in [0, 1]."""
    c = bg.colours
    kind = bg.kind
    if kind == "gradient":
        c1, c2 = random_gradient_colours(rng)
        y, x = grid(res, res)
        angle = rng.uniform(0, 2 * np.pi)
        t = 0.5 + (np.cos(angle) * (x - 0.5) + np.sin(angle) * (y - 0.5)) * 1.2
        canvas = _lerp(c1, c2, np.clip(t, 0, 1))
    elif kind == "vgradient":
        canvas = _vertical(c[0], c[1], res, tilt=rng.uniform(-0.2, 0.2) * detail)
    elif kind == "stars":
        canvas = _vertical(c[0], c[1], res)
        n = int(6 + 24 * detail)
        ys, xs = rng.integers(0, res, n), rng.integers(0, res, n)
        bright = rng.uniform(0.6, 1.0, n).astype(np.float32)
        canvas[:, ys, xs] = bright
        if detail > 0.5 and res >= 48:  # a few larger stars
            canvas[:, np.minimum(ys[: n // 4] + 1, res - 1), xs[: n // 4]] = bright[: n // 4]
    elif kind == "grass":
        blades = smooth_noise(rng, res, res, 4)
        if detail > 0.3:
            streaks = rng.random((max(2, res // 6), max(4, res // 2)), dtype=np.float32)
            streaks = np.asarray(
                Image.fromarray(streaks).resize((res, res), Image.Resampling.BILINEAR),
                dtype=np.float32,
            )
            blades = 0.5 * blades + 0.5 * (detail * streaks + (1 - detail) * 0.5)
        canvas = _lerp(c[0], c[1], blades)
    elif kind == "water":
        y, x = grid(res, res)
        waves = np.sin(
            2 * np.pi * (y * rng.uniform(5, 9) + 0.15 * np.sin(2 * np.pi * x * rng.uniform(1.5, 3)))
        )
        t = np.clip(0.5 + 0.5 * waves * (0.4 + 0.6 * detail), 0, 1)
        canvas = _vertical(c[0], c[1], res) * (0.85 + 0.15 * t)
    elif kind == "wood":
        y, x = grid(res, res)
        planks = int(rng.integers(3, 6))
        row = np.floor(y * planks)
        grain = smooth_noise(rng, res, res, 6)
        t = 0.5 + 0.5 * np.sin(2 * np.pi * (x * 3 + 2.5 * grain + row * 0.37)) * detail
        seam = ((y * planks) % 1.0) < max(0.02, 1.5 / res * planks)
        canvas = _lerp(c[0], c[1], t) * np.where(seam, 0.7, 1.0).astype(np.float32)
    elif kind == "brick":
        y, x = grid(res, res)
        rows = int(rng.integers(5, 9))
        r = np.floor(y * rows)
        xs = x * rows / 2 + 0.5 * (r % 2)
        mortar = (((y * rows) % 1.0 < 0.12) | (xs % 1.0 < 0.06)).astype(np.float32)
        canvas = solid(c[0], res, res)
        if detail > 0.3:
            canvas = canvas * (0.85 + 0.3 * smooth_noise(rng, res, res, 8) * detail)
        canvas = canvas + (_col(c[1]) - canvas) * mortar
    elif kind == "clouds":
        canvas = _vertical(c[0], tuple(0.5 * a + 0.5 * b for a, b in zip(c[0], c[1], strict=True)), res)
        puffs = np.clip((smooth_noise(rng, res, res, 4) - 0.45) * 3.0, 0, 1)
        canvas = canvas + (_col(c[1]) - canvas) * puffs
    else:  # solid and speckle
        canvas = solid(c[0], res, res)
    if kind == "speckle" or detail > 0.6:
        amount = (0.06 if kind == "speckle" else 0.025) * max(detail, 0.3)
        canvas = canvas + (rng.random((res, res), dtype=np.float32) - 0.5) * (2 * amount)
    return np.clip(canvas, 0.0, 1.0).astype(np.float32)
