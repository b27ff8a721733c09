"""The ten Fashion-MNIST classes as silhouettes (category 'garment'), drawn like product shots.

Fashion-MNIST shows one item, centred and filling the frame, seen from the front (clothes) or the side
(shoes, bags), with the proportions of a catalogue photo: trousers and dresses about twice as tall as
wide, tops about as wide as tall with the sleeves hanging close to the body, shoes long and low. Each
garment draws its shape from the instance's random stream (`garment_parts`): body width and length,
sleeve length and angle, a neckline, a variant or two (a tank top, a short-sleeved shirt, a high heel),
so a classifier cannot key on one outline. Seams, plackets and openings are thin erased lines that read
as the dark lines of a photo. Coordinates are unit ones (y down, inside the unit disc).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from synthmphn.images.procedural.shapes import Subject, ellipse, line, poly, rect

N_SHAPE = 8  # random numbers per garment instance
SEAM = 0.5  # the mask level of seams, plackets and openings: a darker line in the cloth, not a cut


def _lerp(a: float, b: float, t: float) -> float:
    return float(a + (b - a) * t)


def _top(w: float, top: float, hem: float, sleeve: float, spread: float, neck: float) -> Subject:
    """A front-view top: body half-width `w` from `top` to `hem`, sleeves of length `sleeve` (0: none).

    `spread` is how far a long sleeve's cuff stands out from the body (0: hanging along it)."""
    shoulder = top + 0.08
    if sleeve <= 0:  # a tank top: straps and a deep armhole
        return (
            poly((-neck - 0.08, top), (-neck, top), (0.0, top + 0.18), (neck, top), (neck + 0.08, top),
                 (w, top + 0.35), (w, hem), (-w, hem), (-w, top + 0.35)),
        )  # fmt: skip
    cuff_y = shoulder + sleeve
    out = w + 0.1 + spread
    armpit = shoulder + min(0.3, sleeve * 0.6)
    # a long sleeve falls from a rounded shoulder; a short one stands out from the shoulder seam
    arm = [(w + 0.12 + 0.3 * spread, shoulder + 0.16)] if sleeve > 0.6 else []
    right = [
        (w, shoulder),
        *arm,
        (out + 0.1, cuff_y - 0.02),
        (out - 0.08, cuff_y + 0.06),
        (w, armpit),
        (w, hem),
    ]
    left = [(-x, y) for x, y in reversed(right)]
    return (poly((-neck, top), (0.0, top + 0.12), (neck, top), *right, *left),)


def _sleeve_seams(w: float, top: float, sleeve: float, width: float) -> Subject:
    """Thin dark lines where long sleeves lie over the body (erased, so they read as seams/shadows)."""
    y = top + 0.08
    return (
        line((w, y + 0.25), (w + 0.02, y + sleeve - 0.05), width=width, level=SEAM),
        line((-w, y + 0.25), (-w - 0.02, y + sleeve - 0.05), width=width, level=SEAM),
    )


def _tshirt(u: np.ndarray) -> Subject:
    w = _lerp(0.34, 0.46, u[0])
    top, hem = -0.8, _lerp(0.72, 0.9, u[1])
    sleeve = 0.0 if u[2] < 0.12 else _lerp(0.22, 0.4, u[3])
    neck = _lerp(0.12, 0.2, u[4])
    parts = list(_top(w, top, hem, sleeve, _lerp(0.05, 0.2, u[5]), neck))
    if sleeve > 0:
        parts.append(ellipse(0.0, top, neck, _lerp(0.06, 0.14, u[6]), erase=True))  # crew / v neckline
    return tuple(parts)


def _trouser(u: np.ndarray) -> Subject:
    waist = _lerp(0.26, 0.36, u[0])
    hem_out = waist + _lerp(-0.06, 0.04, u[1])
    gap = _lerp(0.03, 0.1, u[2])
    crotch = _lerp(-0.45, -0.2, u[3])
    top, bottom = -0.92, 0.92
    parts = [
        poly((-waist, top), (waist, top), (hem_out, bottom), (gap, bottom), (0.0, crotch),
             (-gap, bottom), (-hem_out, bottom)),
    ]  # fmt: skip
    if u[4] < 0.6:  # waistband seam
        parts.append(line((-waist, top + 0.1), (waist, top + 0.1), width=0.025, level=SEAM))
    return tuple(parts)


def _pullover(u: np.ndarray) -> Subject:
    w = _lerp(0.36, 0.46, u[0])
    top, hem = -0.82, _lerp(0.7, 0.86, u[1])
    sleeve = hem - top - _lerp(0.0, 0.12, u[2])
    neck = _lerp(0.12, 0.18, u[3])
    parts = [*_top(w, top, hem, sleeve, _lerp(0.0, 0.08, u[4]), neck)]
    parts.append(ellipse(0.0, top, neck, _lerp(0.06, 0.12, u[5]), erase=True))
    parts += _sleeve_seams(w, top, sleeve, 0.025)
    if u[6] < 0.5:  # ribbed hem
        parts.append(line((-w, hem - 0.1), (w, hem - 0.1), width=0.025, level=SEAM))
    return tuple(parts)


def _coat(u: np.ndarray) -> Subject:
    w = _lerp(0.34, 0.44, u[0])
    top, hem = -0.9, _lerp(0.84, 0.94, u[1])
    sleeve = _lerp(1.4, 1.6, u[2])
    neck = _lerp(0.14, 0.2, u[3])
    parts = [*_top(w, top, hem, sleeve, _lerp(0.0, 0.08, u[4]), neck)]
    hood = u[5] < 0.3
    if hood:
        parts.append(ellipse(0.0, top + 0.05, neck + 0.06, 0.14))
    elif u[6] < 0.5:  # lapels: a V opening to the chest
        parts.append(poly((-neck, top), (0.0, top + _lerp(0.15, 0.35, u[6] * 2)), (neck, top), erase=True))
    parts.append(line((0.0, top + 0.1), (0.0, hem), width=0.025, level=SEAM))  # the front opening / zip
    parts += _sleeve_seams(w, top, sleeve, 0.03)
    if u[7] < 0.5:  # pockets
        for s in (-1, 1):
            parts.append(line((s * (w - 0.08), 0.35), (s * 0.12, 0.35), width=0.025, level=SEAM))
    return tuple(parts)


def _shirt(u: np.ndarray) -> Subject:
    w = _lerp(0.36, 0.46, u[0])
    top, hem = -0.84, _lerp(0.76, 0.9, u[1])
    short = u[2] < 0.3
    sleeve = _lerp(0.25, 0.45, u[3]) if short else hem - top - _lerp(0.0, 0.12, u[3])
    neck = _lerp(0.1, 0.16, u[4])
    parts = [
        *_top(w, top, hem, sleeve, _lerp(0.0, 0.08, u[5]) if not short else _lerp(0.05, 0.2, u[5]), neck)
    ]
    parts.append(poly((-neck, top), (0.0, top + 0.1), (neck, top), erase=True))
    parts += [  # collar points, the placket and its buttons
        line((-neck, top + 0.02), (-0.03, top + 0.2), width=0.025, level=SEAM),
        line((neck, top + 0.02), (0.03, top + 0.2), width=0.025, level=SEAM),
        line((0.0, top + 0.12), (0.0, hem), width=0.02, level=SEAM),
    ]
    if u[6] < 0.6:
        parts += [
            line((0.04, y), (0.06, y), width=0.04, level=SEAM) for y in np.linspace(top + 0.3, hem - 0.15, 5)
        ]
    if not short:
        parts += _sleeve_seams(w, top, sleeve, 0.022)
    return tuple(parts)


def _dress(u: np.ndarray) -> Subject:
    top, hem_y = -0.92, 0.92
    shoulder = _lerp(0.16, 0.26, u[0])
    waist = shoulder + _lerp(-0.08, 0.0, u[1])
    hem = waist + _lerp(0.04, 0.26, u[2])
    waist_y = _lerp(-0.35, -0.1, u[3])
    parts = [
        poly((-shoulder, top), (-0.06, top + 0.1), (0.06, top + 0.1), (shoulder, top),
             (shoulder + 0.06, top + 0.3), (waist, waist_y), (hem, hem_y), (-hem, hem_y), (-waist, waist_y),
             (-shoulder - 0.06, top + 0.3)),
    ]  # fmt: skip
    if u[4] < 0.35:  # sleeves, short or long
        length = _lerp(0.25, 0.9, u[5])
        for s in (-1, 1):
            parts.append(line((s * shoulder, top + 0.05), (s * (shoulder + 0.12), top + length), width=0.12))
    if u[6] < 0.4:  # a belt or waist seam
        parts.append(line((-waist, waist_y), (waist, waist_y), width=0.025, level=SEAM))
    return tuple(parts)


def _sandal(u: np.ndarray) -> Subject:
    heel = _lerp(0.15, 0.5, u[0]) if u[1] < 0.35 else 0.0  # a raised heel, sometimes
    sole_y = 0.3
    parts = [
        line((-0.92, sole_y - heel), (-0.55, sole_y - heel * 0.5), (-0.1, sole_y), (0.9, sole_y),
             width=_lerp(0.06, 0.14, u[7])),
    ]  # fmt: skip
    if heel > 0:
        parts.append(line((-0.86, sole_y - heel), (-0.82, sole_y + 0.02), width=0.08))
    ankle = _lerp(-0.5, -0.15, u[2]) - heel * 0.4  # the highest point: the strap round the ankle
    w = _lerp(0.04, 0.08, u[3])
    base = sole_y - heel * 0.7
    parts.append(line((-0.85, base), (-0.72, ankle), (-0.45, ankle + 0.05), (-0.35, base * 0.5), width=w))
    toe_y = sole_y - _lerp(0.1, 0.25, u[4])
    if u[6] < 0.25:  # a slide: one broad band over the forefoot
        parts.append(poly((-0.1, sole_y), (0.1, toe_y - 0.15), (0.45, toe_y - 0.1), (0.65, sole_y)))
    else:  # the instep strap down to the toes, crossed by one to three straps
        parts.append(line((-0.45, ankle + 0.05), (0.65, toe_y), width=w))
        for x in np.linspace(-0.25, 0.45, 1 + int(u[5] * 3)):
            y = ankle + 0.05 + (toe_y - ankle - 0.05) * (float(x) + 0.45) / 1.1
            parts.append(
                line((float(x) - 0.12, sole_y), (float(x), y - 0.05), (float(x) + 0.12, sole_y), width=w)
            )
    return tuple(parts)


def _sneaker(u: np.ndarray) -> Subject:
    high = _lerp(0.0, 0.3, (u[0] - 0.8) / 0.2) if u[0] > 0.8 else 0.0  # a high-top, sometimes
    collar = _lerp(-0.4, -0.2, u[1]) - high
    toe = _lerp(0.0, 0.15, u[2])
    parts = [
        poly((-0.9, 0.35), (-0.92, collar + 0.1), (-0.85, collar), (-0.55, collar - 0.02), (-0.35, collar + 0.15),
             (0.1, toe - 0.05), (0.55, toe + 0.05), (0.85, toe + 0.15), (0.93, 0.28), (0.88, 0.38), (-0.88, 0.38)),
    ]  # fmt: skip
    parts.append(line((-0.9, 0.26), (0.9, 0.26), width=0.03, erase=u[3] < 0.7))  # sole seam
    if u[4] < 0.6:  # laces
        parts += [line((x, collar + 0.2 + 0.5 * (x + 0.3)), (x + 0.06, collar + 0.3 + 0.5 * (x + 0.3)),
                       width=0.025, level=SEAM) for x in (-0.25, -0.12, 0.01)]  # fmt: skip
    return tuple(parts)


def _boot(u: np.ndarray) -> Subject:
    shaft = _lerp(0.45, 0.75, u[0])
    back = _lerp(-0.75, -0.6, u[1])
    front = _lerp(-0.15, 0.0, u[2])
    heel = _lerp(0.08, 0.2, u[3])
    parts = [
        poly((back, 0.55), (back + 0.02, -shaft), (front, -shaft), (front + 0.05, -0.05), (0.5, 0.1),
             (0.82, 0.28), (0.88, 0.5), (back, 0.55)),
        rect(back - 0.02, 0.45, 0.9, 0.55),  # sole
        rect(back, 0.5, back + 0.28, 0.55 + heel),  # heel
    ]  # fmt: skip
    if u[4] < 0.5:  # laces or a zip
        parts.append(line((front - 0.05, -shaft + 0.1), (front + 0.05, -0.05), width=0.025, level=SEAM))
    return tuple(parts)


def _bag(u: np.ndarray) -> Subject:
    w = _lerp(0.62, 0.88, u[0])
    top = _lerp(-0.3, 0.0, u[3])
    parts = [poly((-w, top), (w, top), (w + 0.08, 0.72), (-w - 0.08, 0.72))]
    if u[1] < 0.7:  # handle
        h = _lerp(0.3, 0.6, u[4])
        hw = _lerp(0.25, 0.45, u[5])
        parts.append(line((-hw, top), (-hw + 0.05, top - h), (hw - 0.05, top - h), (hw, top), width=0.08))
    if u[2] < 0.5:  # flap
        parts.append(line((-w, top + 0.3), (w, top + 0.3), width=0.03, level=SEAM))
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
SIDE_VIEW = ("sandal", "sneaker", "ankle boot")
"""Shoes, seen from the side; they face left (the renderer mirrors a few instances, `Style.garment_flip`)."""


def garment_parts(subject: str, rng: np.random.Generator | None = None) -> Subject:
    """A garment's parts; with an rng one of its shape variants, without it the canonical (middle) one."""
    u = rng.random(N_SHAPE) if rng is not None else np.full(N_SHAPE, 0.5)
    parts = GARMENT_DRAWERS[subject](u)
    if subject in SIDE_VIEW:  # drawn toe right; a catalogue shot shows the toe on the left
        parts = tuple(replace(p, points=p.points * np.array([-1.0, 1.0], dtype=np.float32)) for p in parts)
    return parts
