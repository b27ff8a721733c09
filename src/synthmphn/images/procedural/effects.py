"""Image effects shared by styles: brush strokes, Voronoi tesserae, and reading a fill's pattern back."""

from __future__ import annotations

import math

import numpy as np
from PIL import ImageDraw

from synthmphn.images.procedural.palette import RGB
from synthmphn.images.procedural.raster import from_image, grid, mix, to_image, to_uint8


def pattern_of(fill: np.ndarray, colour: RGB) -> np.ndarray:
    """Recovers T (1 = colour, 0 = accent) from a fill map (used by styles that redraw the pattern)."""
    diff = np.abs(fill - np.asarray(colour, dtype=np.float32)[:, None, None]).sum(axis=0)
    span = max(float(diff.max()), 1e-6)
    return 1.0 - diff / span


def brush_strokes(
    canvas: np.ndarray,
    rng: np.random.Generator,
    n: int,
    width: tuple[float, float],
    jitter: float,
    within: np.ndarray | None = None,
) -> np.ndarray:
    """Paints `n` short strokes on a [3, H, W] canvas, each in the colour under its start plus jitter.

    Strokes run mostly along one dominant direction per call, like a painter's hand; with `within`,
    they start inside that mask only.
    """
    res = canvas.shape[1]
    image = to_image(canvas)
    draw = ImageDraw.Draw(image)
    if within is not None:
        inside = np.flatnonzero(within > 0.5)
        if inside.size == 0:
            return canvas
        starts = inside[rng.integers(0, inside.size, n)]
        ys, xs = starts // res, starts % res
    else:
        ys, xs = rng.integers(0, res, n), rng.integers(0, res, n)
    direction = rng.uniform(0, math.pi)
    angles = direction + rng.normal(0, 0.3, n)
    lengths = rng.uniform(0.1, 0.25, n) * res
    widths = rng.uniform(*width, n)
    colours = to_uint8(canvas[:, ys, xs].T + rng.uniform(-jitter, jitter, (n, 3)).astype(np.float32))
    for i in range(n):
        dx, dy = math.cos(angles[i]) * lengths[i] / 2, math.sin(angles[i]) * lengths[i] / 2
        draw.line(
            [(xs[i] - dx, ys[i] - dy), (xs[i] + dx, ys[i] + dy)],
            fill=tuple(int(v) for v in colours[i]),
            width=max(1, int(widths[i])),
            joint="curve",
        )
    return from_image(image)


def voronoi_mosaic(canvas: np.ndarray, rng: np.random.Generator, tiles: int, grout: float) -> np.ndarray:
    """Irregular tesserae: each pixel takes the mean colour of its Voronoi cell (seeds on a jittered
    tiles x tiles grid); pixels near a cell border become grout of width `grout` (share of a cell)."""
    res = canvas.shape[1]
    cell = res / tiles
    # Seeds padded with a ring of far-away points, so every 3x3 neighbourhood lookup is in range.
    far = 1e6
    sy = np.full((tiles + 2, tiles + 2), far, dtype=np.float32)
    sx = np.full((tiles + 2, tiles + 2), far, dtype=np.float32)
    idx = np.arange(tiles, dtype=np.float32)
    sy[1:-1, 1:-1] = (idx[:, None] + rng.uniform(0.2, 0.8, (tiles, tiles))) * cell
    sx[1:-1, 1:-1] = (idx[None, :] + rng.uniform(0.2, 0.8, (tiles, tiles))) * cell
    y, x = grid(res, res)
    py, px = y * res, x * res
    ci = np.minimum((py / cell).astype(np.int32), tiles - 1) + 1
    cj = np.minimum((px / cell).astype(np.int32), tiles - 1) + 1
    best = np.full((res, res), np.inf, dtype=np.float32)
    second = np.full((res, res), np.inf, dtype=np.float32)
    owner = np.zeros((res, res), dtype=np.int64)
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            ni, nj = ci + di, cj + dj
            d = (py - sy[ni, nj]) ** 2 + (px - sx[ni, nj]) ** 2
            closer = d < best
            second = np.where(closer, best, np.minimum(second, d))
            owner = np.where(closer, ni * (tiles + 2) + nj, owner)
            best = np.where(closer, d, best)
    n_cells = (tiles + 2) ** 2
    flat = owner.ravel()
    counts = np.maximum(np.bincount(flat, minlength=n_cells), 1)
    shade = rng.uniform(0.9, 1.1, n_cells).astype(np.float32)  # every tessera a little different
    means = np.stack([np.bincount(flat, weights=ch.ravel(), minlength=n_cells) / counts for ch in canvas])
    tesserae = (means * shade).astype(np.float32)[:, owner]
    border = (np.sqrt(second) - np.sqrt(best)) < grout * cell
    # Grout: light or dark mortar with a slight tint; it never depends on the picture, so an edit of the
    # subject leaves the grout (and every tile away from the subject) unchanged.
    mortar = np.asarray((0.86, 0.84, 0.8) if rng.random() < 0.5 else (0.24, 0.24, 0.26), dtype=np.float32)
    colour = np.clip(mortar + rng.uniform(-0.04, 0.04, 3).astype(np.float32), 0, 1)
    return mix(tesserae, colour, border.astype(np.float32))
