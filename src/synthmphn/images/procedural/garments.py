"""The ten Fashion-MNIST classes as silhouettes (category 'garment'), drawn like product shots.

Fashion-MNIST shows one item, centred and filling the frame, seen from the front (clothes) or the side
(shoes, bags). Each garment here has a couple of shape variants (picked by `garment_parts` from the
instance's random stream) so a classifier cannot key on one outline: sleeves longer or shorter, a skirt
wider or narrower, a bag with or without a handle. Coordinates are unit ones (y down, inside the unit disc).
"""

from __future__ import annotations

import numpy as np

from synthmphn.images.procedural.shapes import Subject, circle, line, poly, rect


def _tshirt(u: np.ndarray) -> Subject:
    s = 0.18 + 0.12 * u[0]  # sleeve length
    w = 0.5 + 0.08 * u[1]  # half body width
    return (
        poly(
            (-0.2, -0.72),
            (0.2, -0.72),
            (w + 0.05, -0.62),
            (w + s + 0.2, -0.25),
            (w + s, -0.05),
            (w, -0.25),
            (w, 0.8),
            (-w, 0.8),
            (-w, -0.25),
            (-w - s, -0.05),
            (-w - s - 0.2, -0.25),
            (-w - 0.05, -0.62),
        ),  # fmt: skip
        poly((-0.2, -0.72), (0.0, -0.55), (0.2, -0.72), erase=True),
    )


def _trouser(u: np.ndarray) -> Subject:
    top = 0.34 + 0.08 * u[0]
    foot = 0.2 + 0.1 * u[1]
    gap = 0.03 + 0.04 * u[2]
    return (
        poly((-top, -0.88), (top, -0.88), (foot + 0.14, 0.9), (gap, 0.9), (0.0, -0.35),
             (-gap, 0.9), (-foot - 0.14, 0.9)),
    )  # fmt: skip


def _long_sleeves(w: float, hem: float, reach: float) -> Subject:
    return (
        poly(
            (-0.22, -0.75), (0.22, -0.75), (w + 0.08, -0.65), (w + 0.3, -0.3), (reach, 0.72),
            (reach - 0.2, 0.76), (w, -0.05), (w, hem), (-w, hem), (-w, -0.05), (-reach + 0.2, 0.76),
            (-reach, 0.72), (-w - 0.3, -0.3), (-w - 0.08, -0.65),
        ),
    )  # fmt: skip


def _pullover(u: np.ndarray) -> Subject:
    w = 0.46 + 0.06 * u[0]
    return (
        *_long_sleeves(w, 0.78, 0.9),
        poly((-0.22, -0.75), (0.0, -0.6), (0.22, -0.75), erase=True),
        rect(-w, 0.68, w, 0.72, erase=u[1] < 0.5),  # ribbed hem, sometimes visible as a seam
    )


def _coat(u: np.ndarray) -> Subject:
    w = 0.44 + 0.06 * u[0]
    return (
        *_long_sleeves(w, 0.92, 0.88),
        poly((-0.22, -0.75), (0.0, -0.35), (0.22, -0.75), (0.12, -0.8), (-0.12, -0.8), erase=True),
        line((0.0, -0.35), (0.0, 0.92), width=0.035, erase=True),  # the front opening
        line((-w + 0.08, 0.2), (-0.12, 0.2), width=0.03, erase=u[1] < 0.5),  # a pocket
    )


def _shirt(u: np.ndarray) -> Subject:
    w = 0.44 + 0.06 * u[0]
    buttons = tuple(circle(0.0, y, 0.035, erase=True) for y in (-0.3, 0.0, 0.3, 0.6))
    return (
        *_long_sleeves(w, 0.84, 0.84 + 0.06 * u[1]),
        poly((-0.2, -0.76), (-0.02, -0.5), (-0.12, -0.78), erase=True),  # collar points
        poly((0.2, -0.76), (0.02, -0.5), (0.12, -0.78), erase=True),
        line((0.0, -0.5), (0.0, 0.84), width=0.02, erase=True),
        *buttons,
    )


def _dress(u: np.ndarray) -> Subject:
    hem = 0.5 + 0.3 * u[0]
    waist = 0.2 + 0.04 * u[1]
    strap = u[2] < 0.5
    top = (-0.26, -0.78), (0.26, -0.78)
    shoulders = ((-0.3, -0.62), (0.3, -0.62)) if strap else ((-0.4, -0.7), (0.4, -0.7))
    return (
        poly(top[0], (-0.08, -0.68), (0.08, -0.68), top[1], shoulders[1], (waist + 0.06, -0.35),
             (waist, -0.1), (hem, 0.9), (-hem, 0.9), (-waist, -0.1), (-waist - 0.06, -0.35), shoulders[0]),
    )  # fmt: skip


def _sandal(u: np.ndarray) -> Subject:
    straps = tuple(
        line((x, 0.28), (x + 0.18, -0.12 - 0.1 * u[1]), width=0.07) for x in (-0.6, -0.25, 0.1, 0.4)
    )
    return (
        poly((-0.92, 0.3), (0.85, 0.28), (0.92, 0.38), (0.8, 0.45), (-0.88, 0.45)),  # sole
        poly((-0.92, 0.3), (-0.7, 0.3), (-0.7, -0.15 - 0.2 * u[0]), (-0.88, -0.1)),  # heel strap
        *straps,
    )


def _sneaker(u: np.ndarray) -> Subject:
    high = 0.2 * u[0]
    return (
        poly((-0.9, 0.35), (-0.88, -0.15 - high), (-0.5, -0.22 - high), (-0.2, -0.05), (0.35, 0.02),
             (0.8, 0.12), (0.92, 0.3), (0.88, 0.42), (-0.9, 0.42)),
        line((-0.9, 0.3), (0.9, 0.3), width=0.04, erase=True),  # sole seam
        line((-0.35, -0.08), (-0.1, 0.12), width=0.03, erase=u[1] < 0.6),  # laces
    )  # fmt: skip


def _boot(u: np.ndarray) -> Subject:
    shaft = 0.55 + 0.2 * u[0]
    return (
        poly((-0.7, 0.6), (-0.68, -shaft), (-0.1, -shaft), (-0.08, -0.05), (0.5, 0.12), (0.8, 0.3),
             (0.85, 0.62), (-0.7, 0.62)),
        rect(-0.72, 0.5, 0.87, 0.7),  # thick sole
        rect(-0.7, 0.62, -0.45, 0.78),  # heel
    )  # fmt: skip


def _bag(u: np.ndarray) -> Subject:
    w = 0.72 + 0.15 * u[0]
    parts = [poly((-w, -0.2), (w, -0.2), (w + 0.08, 0.72), (-w - 0.08, 0.72))]
    if u[1] < 0.7:  # handle
        parts.append(line((-0.35, -0.2), (-0.3, -0.65), (0.3, -0.65), (0.35, -0.2), width=0.09))
    if u[2] < 0.5:  # flap
        parts.append(line((-w, 0.1), (w, 0.1), width=0.03, erase=True))
    return tuple(parts)


GARMENT_DRAWERS = {
    "t shirt": _tshirt,
    "trouser": _trouser,
    "pullover": _pullover,
    "dress": _dress,
    "coat": _coat,
    "sandal": _sandal,
    "shirt": _shirt,
    "sneaker": _sneaker,
    "bag": _bag,
    "ankle boot": _boot,
}
"""Fashion-MNIST's classes in label order (canonical subject names: `normalise_name` of the class names)."""

GARMENTS = tuple(GARMENT_DRAWERS)


def garment_parts(subject: str, rng: np.random.Generator | None = None) -> Subject:
    """A garment's parts; with an rng one of its shape variants, without it the canonical (middle) one."""
    u = rng.random(3) if rng is not None else np.full(3, 0.5)
    return GARMENT_DRAWERS[subject](u)
