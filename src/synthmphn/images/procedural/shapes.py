"""Vector subjects: parts in unit coordinates, the geometric shapes, and rasterising parts to a mask.

A subject is a tuple of `Part`s drawn in order on a mask: a filled polygon or a thick polyline, which
either adds ink or erases it (holes, door outlines...). Coordinates are in the unit square, x to the
right and y down, and every subject fits in the unit disc, so a rotated subject never leaves its slot.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

TAU = 2 * math.pi


@dataclass(frozen=True)
class Part:
    """One drawing step: `kind` 'poly' (filled polygon) or 'line' (polyline of `width` in unit coords)."""

    kind: str
    points: np.ndarray  # [N, 2] float32, unit coordinates
    width: float = 0.0
    erase: bool = False
    level: float | None = None  # the mask value the part sets (default 1 to add ink, 0 to erase)


Subject = tuple[Part, ...]


def poly(*points: tuple[float, float], erase: bool = False, level: float | None = None) -> Part:
    """A filled polygon through `points` (`level`: the mask value it sets, a grey tone; default full)."""
    return Part("poly", np.asarray(points, dtype=np.float32), erase=erase, level=level)


def rect(x0: float, y0: float, x1: float, y1: float, erase: bool = False) -> Part:
    """An axis-aligned filled rectangle."""
    return poly((x0, y0), (x1, y0), (x1, y1), (x0, y1), erase=erase)


def ellipse_points(
    cx: float,
    cy: float,
    rx: float,
    ry: float,
    t0: float = 0.0,
    t1: float = TAU,
    n: int = 40,
    rot: float = 0.0,
) -> np.ndarray:
    """Points on an ellipse arc from angle t0 to t1 (radians; y down, so -pi/2 is the top), rotated by `rot`."""
    t = np.linspace(t0, t1, n, dtype=np.float32)
    x, y = rx * np.cos(t), ry * np.sin(t)
    c, s = math.cos(rot), math.sin(rot)
    return np.stack([cx + c * x - s * y, cy + s * x + c * y], axis=1).astype(np.float32)


def ellipse(
    cx: float,
    cy: float,
    rx: float,
    ry: float,
    t0: float = 0.0,
    t1: float = TAU,
    rot: float = 0.0,
    erase: bool = False,
) -> Part:
    """A filled ellipse (or the chord-closed sector of an arc when t0..t1 is not a full turn)."""
    return Part("poly", ellipse_points(cx, cy, rx, ry, t0, t1, rot=rot), erase=erase)


def circle(cx: float, cy: float, r: float, erase: bool = False) -> Part:
    """A filled circle."""
    return ellipse(cx, cy, r, r, erase=erase)


def line(*points: tuple[float, float], width: float, erase: bool = False, level: float | None = None) -> Part:
    """A polyline of the given width (unit coordinates); `level` sets the mask to a grey (a faint seam)."""
    return Part("line", np.asarray(points, dtype=np.float32), width=width, erase=erase, level=level)


def arc(
    cx: float, cy: float, rx: float, ry: float, t0: float, t1: float, width: float, erase: bool = False
) -> Part:
    """A thick elliptical arc."""
    return Part("line", ellipse_points(cx, cy, rx, ry, t0, t1, n=24), width=width, erase=erase)


def regular(n: int, r: float, rot: float = -math.pi / 2, cx: float = 0.0, cy: float = 0.0) -> Part:
    """A regular n-gon of circumradius r with a vertex at angle `rot` (default: pointing up)."""
    t = rot + np.arange(n, dtype=np.float32) * (TAU / n)
    return Part("poly", np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], axis=1).astype(np.float32))


def star(n: int, r_out: float, r_in: float, cx: float = 0.0, cy: float = 0.0) -> Part:
    """An n-pointed star with outer/inner radii, pointing up."""
    t = -math.pi / 2 + np.arange(2 * n, dtype=np.float32) * (math.pi / n)
    r = np.where(np.arange(2 * n) % 2 == 0, r_out, r_in).astype(np.float32)
    return Part("poly", np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], axis=1).astype(np.float32))


def _heart() -> Part:
    t = np.linspace(0, TAU, 60, dtype=np.float32)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    pts = np.stack([x, y + 2.5], axis=1) / 17.5
    return Part("poly", pts.astype(np.float32))


def _teardrop() -> Part:
    # Classic teardrop curve: x = a sin(t) sin(t/2), y = -cos(t); the tip is at the top (t = 0).
    t = np.linspace(0, TAU, 60, dtype=np.float32)
    x = 0.8 * np.sin(t) * np.sin(t / 2)
    y = -0.93 * np.cos(t)
    return Part("poly", np.stack([x, y], axis=1).astype(np.float32))


def _spiral() -> Part:
    t = np.linspace(0, 2.6 * TAU, 120, dtype=np.float32)
    r = 0.06 + 0.8 * t / t[-1]
    return Part("line", np.stack([r * np.cos(t), r * np.sin(t)], axis=1).astype(np.float32), width=0.14)


def _cross(arm: float = 0.3, reach: float = 0.9) -> Part:
    a, b = arm, reach
    return poly(
        (-a, -b),
        (a, -b),
        (a, -a),
        (b, -a),
        (b, a),
        (a, a),
        (a, b),
        (-a, b),
        (-a, a),
        (-b, a),
        (-b, -a),
        (-a, -a),
    )


SHAPES: dict[str, Subject] = {
    "circle": (circle(0, 0, 0.9),),
    "oval": (ellipse(0, 0, 0.92, 0.58),),
    "square": (rect(-0.66, -0.66, 0.66, 0.66),),
    "rectangle": (rect(-0.86, -0.48, 0.86, 0.48),),
    "triangle": (regular(3, 0.95, cy=0.12),),
    "star": (star(5, 0.95, 0.4, cy=0.05),),
    "hexagram": (star(6, 0.95, 0.55),),
    "pentagon": (regular(5, 0.92, cy=0.04),),
    "hexagon": (regular(6, 0.92, rot=0.0),),
    "octagon": (regular(8, 0.92, rot=math.pi / 8),),
    "heart": (_heart(),),
    "cross": (_cross(),),
    "diamond": (poly((0, -0.95), (0.62, 0), (0, 0.95), (-0.62, 0)),),
    "ring": (circle(0, 0, 0.9), circle(0, 0, 0.5, erase=True)),
    "crescent": (circle(0, 0, 0.85), circle(0.42, -0.18, 0.72, erase=True)),
    "semicircle": (ellipse(0, 0.35, 0.92, 0.92, math.pi, TAU),),
    "trapezoid": (poly((-0.5, -0.5), (0.5, -0.5), (0.9, 0.5), (-0.9, 0.5)),),
    "parallelogram": (poly((-0.45, -0.5), (0.9, -0.5), (0.45, 0.5), (-0.9, 0.5)),),
    "teardrop": (_teardrop(),),
    "spiral": (_spiral(),),
    "arch": (
        ellipse(0, 0.2, 0.85, 0.85, math.pi, TAU),
        rect(-0.85, 0.19, 0.85, 0.75),
        ellipse(0, 0.2, 0.45, 0.45, math.pi, TAU, erase=True),
        rect(-0.45, 0.19, 0.45, 0.8, erase=True),
    ),
}
"""Geometric shapes (category 'shape'), each fitting the unit disc."""


def rasterize(
    parts: Sequence[Part], canvas: int, diameter: float, matrix: np.ndarray, min_width: float = 1.0
) -> np.ndarray:
    """Draws parts on a `canvas`x`canvas` mask (float32 [0, 1]); the unit disc maps to `diameter` px.

    `matrix` is a 2x2 linear map (rotation, shear, aspect) applied to unit coordinates before scaling,
    so rotating a vector subject costs nothing and stays sharp. Strokes are at least `min_width` px
    wide, so thin parts (spokes, strings) survive small sizes.
    """
    image = Image.new("L", (canvas, canvas), 0)
    draw = ImageDraw.Draw(image)
    half = diameter / 2.0
    centre = canvas / 2.0
    for part in parts:
        pts = part.points @ matrix.T * half + centre
        flat = [(float(x), float(y)) for x, y in pts]
        fill = (0 if part.erase else 255) if part.level is None else int(round(255 * part.level))
        if part.kind == "poly":
            draw.polygon(flat, fill=fill)
        else:
            width = max(int(round(min_width)), 1, int(round(part.width * half)))
            draw.line(flat, fill=fill, width=width, joint="curve")
            if width > 2:  # round caps, so strokes look drawn rather than cut
                r = width / 2.0
                for x, y in (flat[0], flat[-1]):
                    draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)
    return np.asarray(image, dtype=np.float32) * (1.0 / 255.0)


def linear_map(rotation_deg: float = 0.0, shear: float = 0.0, aspect: float = 1.0) -> np.ndarray:
    """2x2 matrix: horizontal shear (slant), then x/y aspect, then rotation (degrees, counter-clockwise)."""
    t = math.radians(rotation_deg)
    rot = np.array([[math.cos(t), math.sin(t)], [-math.sin(t), math.cos(t)]], dtype=np.float32)
    sx, sy = math.sqrt(aspect), 1.0 / math.sqrt(aspect)
    scale = np.array([[sx, 0.0], [0.0, sy]], dtype=np.float32)
    slant = np.array([[1.0, -shear], [0.0, 1.0]], dtype=np.float32)
    return rot @ scale @ slant
