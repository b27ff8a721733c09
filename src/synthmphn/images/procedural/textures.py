"""Fill patterns ('texture' / material attribute): a map T in [0, 1], 1 = the subject colour, 0 = its accent.

Periods are in pixels and scale with the instance, so stripes stay visible on a small subject.
Unknown texture names get a pattern whose family and parameters are hashed from the name (so 'scaly'
always looks the same), with orientation and phase from the image's seed.
"""

from __future__ import annotations

import hashlib

import numpy as np

from synthmphn.images.procedural.palette import normalise_name
from synthmphn.images.procedural.raster import grid, smooth_noise

PLAIN = frozenset(
    {"plain", "solid", "smooth", "matte", "flat", "none", "uniform", "plain colour", "plain color"}
)

TEXTURE_ALIASES: dict[str, str] = {
    "stripes": "striped",
    "stripy": "striped",
    "striped": "striped",
    "horizontal stripes": "horizontal stripes",
    "vertical stripes": "vertical stripes",
    "diagonal stripes": "diagonal stripes",
    "dotted": "dotted",
    "dots": "dotted",
    "polka dot": "dotted",
    "polka dots": "dotted",
    "polka dotted": "dotted",
    "spotted": "spotted",
    "spots": "spotted",
    "checkered": "checkered",
    "checked": "checkered",
    "chequered": "checkered",
    "checkerboard": "checkered",
    "plaid": "plaid",
    "tartan": "plaid",
    "zigzag": "zigzag",
    "chevron": "zigzag",
    "wavy": "wavy",
    "waves": "wavy",
    "grid": "grid",
    "crosshatched": "crosshatched",
    "cross hatched": "crosshatched",
    "hatched": "crosshatched",
    "speckled": "speckled",
    "sparkly": "speckled",
    "glittery": "speckled",
    "gradient": "gradient",
    "wooden": "wooden",
    "wood": "wooden",
    "wood grain": "wooden",
    "marble": "marble",
    "marbled": "marble",
    "metallic": "metallic",
    "metal": "metallic",
    "shiny": "metallic",
    "glossy": "metallic",
    "chrome": "metallic",
    "furry": "furry",
    "fuzzy": "furry",
    "woolly": "furry",
    "brick": "brick",
    "bricks": "brick",
}

TEXTURES = ("plain", *sorted(set(TEXTURE_ALIASES.values())))
"""Canonical texture names drawn by a dedicated pattern (any other name falls back to a hashed pattern)."""


def canonical_texture(name: str | None) -> str:
    """'plain' for absent/plain names, a canonical pattern name, or the normalised unknown name itself."""
    if name is None:
        return "plain"
    key = normalise_name(name)
    if key in PLAIN:
        return "plain"
    return TEXTURE_ALIASES.get(key, key)


def _rotated(height: int, width: int, angle: float) -> tuple[np.ndarray, np.ndarray]:
    y, x = grid(height, width)
    px, py = x * width, y * height
    c, s = np.cos(angle), np.sin(angle)
    return c * px + s * py, -s * px + c * py


def _stripes(u: np.ndarray, period: float, duty: float = 0.5) -> np.ndarray:
    return ((u / period) % 1.0 < duty).astype(np.float32)


def texture_pattern(
    name: str | None, rng: np.random.Generator, height: int, width: int, period: float
) -> np.ndarray | None:
    """The pattern map T [height, width] in [0, 1] for a texture name, or None for a plain fill."""
    kind = canonical_texture(name)
    if kind == "plain":
        return None
    period = max(3.0, float(period))
    angle = rng.choice([0.0, np.pi / 4, np.pi / 2, 3 * np.pi / 4]) + rng.uniform(-0.15, 0.15)
    phase = rng.uniform(0, period)
    if kind == "striped":
        u, _ = _rotated(height, width, angle)
        return _stripes(u + phase, period)
    if kind in ("horizontal stripes", "vertical stripes", "diagonal stripes"):
        fixed = {"horizontal stripes": np.pi / 2, "vertical stripes": 0.0, "diagonal stripes": np.pi / 4}[
            kind
        ]
        u, _ = _rotated(height, width, fixed)
        return _stripes(u + phase, period)
    if kind in ("dotted", "spotted"):
        u, v = _rotated(height, width, angle if kind == "spotted" else 0.0)
        cell = period * (1.0 if kind == "dotted" else 1.4)
        du = ((u + phase) / cell) % 1.0 - 0.5
        dv = ((v + phase) / cell) % 1.0 - 0.5
        radius = 0.28 if kind == "dotted" else 0.36
        return (du * du + dv * dv > radius * radius).astype(np.float32)
    if kind in ("checkered", "plaid"):
        u, v = _rotated(height, width, 0.0 if rng.random() < 0.7 else np.pi / 4)
        cu = np.floor((u + phase) / period)
        cv = np.floor((v + phase) / period)
        if kind == "checkered":
            return ((cu + cv) % 2).astype(np.float32)
        return 1.0 - 0.35 * (cu % 2) - 0.35 * (cv % 2)
    if kind == "zigzag":
        u, v = _rotated(height, width, angle)
        tri = np.abs(((v / period) % 1.0) - 0.5) * period
        return _stripes(u + tri + phase, period)
    if kind == "wavy":
        u, v = _rotated(height, width, angle)
        return _stripes(u + 0.35 * period * np.sin(2 * np.pi * v / (1.5 * period)) + phase, period)
    if kind == "grid":
        u, v = _rotated(height, width, 0.0)
        return 1.0 - np.maximum(_stripes(u + phase, period, 0.22), _stripes(v + phase, period, 0.22))
    if kind == "crosshatched":
        u, _ = _rotated(height, width, np.pi / 4)
        v, _ = _rotated(height, width, -np.pi / 4)
        return 1.0 - np.maximum(_stripes(u, period * 0.7, 0.3), _stripes(v, period * 0.7, 0.3))
    if kind == "speckled":
        return (rng.random((height, width), dtype=np.float32) > 0.18).astype(np.float32)
    if kind == "gradient":
        u, _ = _rotated(height, width, angle)
        span = max(float(u.max() - u.min()), 1.0)
        return (1.0 - 0.8 * (u - u.min()) / span).astype(np.float32)
    if kind == "wooden":
        y, x = grid(height, width)
        cy, cx = rng.uniform(-1.5, -0.5), rng.uniform(0.2, 0.8)
        r = np.hypot((x - cx) * width, (y - cy) * height)
        r = r + 0.6 * period * smooth_noise(rng, height, width, 4)
        return 0.55 + 0.45 * _stripes(r, period * 0.6, 0.35)
    if kind == "marble":
        u, v = _rotated(height, width, angle)
        turb = smooth_noise(rng, height, width, 5) * 3.0 * period
        return (0.6 + 0.4 * np.abs(np.sin((u + turb) * np.pi / (1.7 * period)))).astype(np.float32)
    if kind == "metallic":
        u, _ = _rotated(height, width, np.pi / 4 + rng.uniform(-0.3, 0.3))
        return (0.55 + 0.45 * np.abs(np.sin((u + phase) * np.pi / (3.0 * period)))).astype(np.float32)
    if kind == "furry":
        return 0.45 + 0.55 * smooth_noise(rng, height, width, max(4, int(height / max(period / 3, 1))))
    if kind == "brick":
        y, x = grid(height, width)
        py, px = y * height + phase, x * width
        row = np.floor(py / (period * 0.6))
        pxs = px + (row % 2) * period * 0.6
        mortar = ((py / (period * 0.6)) % 1.0 < 0.18) | ((pxs / (period * 1.2)) % 1.0 < 0.09)
        return 1.0 - mortar.astype(np.float32)
    return _hashed_pattern(kind, rng, height, width, period, angle, phase)


def _hashed_pattern(
    kind: str, rng: np.random.Generator, height: int, width: int, period: float, angle: float, phase: float
) -> np.ndarray:
    """A stable pattern for a texture name we do not know: family and scale come from the name's hash."""
    digest = hashlib.blake2b(f"texture:{kind}".encode(), digest_size=8).digest()
    family = digest[0] % 4
    scale = 0.7 + 0.8 * digest[1] / 255.0
    p = period * scale
    u, v = _rotated(height, width, angle)
    if family == 0:
        return _stripes(u + phase, p, 0.3 + 0.4 * digest[2] / 255.0)
    if family == 1:
        du = ((u + phase) / p) % 1.0 - 0.5
        dv = ((v + phase) / p) % 1.0 - 0.5
        return (np.maximum(np.abs(du), np.abs(dv)) > 0.2 + 0.15 * digest[2] / 255.0).astype(np.float32)
    if family == 2:
        return _stripes(u + 0.3 * p * np.sin(2 * np.pi * v / p) + phase, p)
    return 0.5 + 0.5 * smooth_noise(rng, height, width, 3 + digest[2] % 6)
