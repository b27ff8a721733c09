"""Icons of nature: plants, animals, weather, the sky and landscape.

See `icons/__init__.py` for the coordinate conventions.
"""

from __future__ import annotations

import math

from synthmphn.images.procedural.shapes import (
    TAU,
    Subject,
    arc,
    circle,
    ellipse,
    line,
    poly,
    rect,
    star,
)

PI = math.pi


def _flower() -> Subject:
    petals = tuple(
        circle(0.34 * math.cos(a), -0.3 + 0.34 * math.sin(a), 0.24) for a in [i * TAU / 5 for i in range(5)]
    )
    return (
        line((0, -0.1), (0.03, 0.92), width=0.1),
        ellipse(0.22, 0.5, 0.22, 0.09, rot=-0.6),
        *petals,
        circle(0, -0.3, 0.17, erase=True),
        circle(0, -0.3, 0.12),
    )


def _sun() -> Subject:
    rays = tuple(
        line((0.62 * math.cos(a), 0.62 * math.sin(a)), (0.92 * math.cos(a), 0.92 * math.sin(a)), width=0.13)
        for a in [i * TAU / 8 for i in range(8)]
    )
    return (circle(0, 0, 0.48), *rays)


def _butterfly() -> Subject:
    return (
        ellipse(-0.42, -0.3, 0.42, 0.32, rot=-0.5),
        ellipse(0.42, -0.3, 0.42, 0.32, rot=0.5),
        ellipse(-0.32, 0.35, 0.3, 0.24, rot=0.5),
        ellipse(0.32, 0.35, 0.3, 0.24, rot=-0.5),
        line((0, -0.5), (0, 0.6), width=0.12),
        line((0, -0.5), (-0.2, -0.85), width=0.05),
        line((0, -0.5), (0.2, -0.85), width=0.05),
    )


def _snowflake() -> Subject:
    parts = []
    for i in range(6):
        a = i * TAU / 6 - PI / 2
        ca, sa = math.cos(a), math.sin(a)
        parts.append(line((0, 0), (0.9 * ca, 0.9 * sa), width=0.1))
        for s in (-1, 1):
            b = a + s * 0.7
            parts.append(
                line(
                    (0.55 * ca, 0.55 * sa),
                    (0.55 * ca + 0.28 * math.cos(b), 0.55 * sa + 0.28 * math.sin(b)),
                    width=0.08,
                )
            )
    return tuple(parts)


NATURE_ICONS: dict[str, Subject] = {
    "tree": (rect(-0.12, 0.25, 0.12, 0.92), circle(0, -0.28, 0.62)),
    "pine tree": (
        rect(-0.1, 0.6, 0.1, 0.95),
        poly((-0.7, 0.65), (0, -0.1), (0.7, 0.65)),
        poly((-0.55, 0.2), (0, -0.55), (0.55, 0.2)),
        poly((-0.4, -0.25), (0, -0.92), (0.4, -0.25)),
    ),
    "fish": (
        ellipse(-0.15, 0, 0.62, 0.38),
        poly((0.35, 0), (0.9, -0.42), (0.85, 0.42)),
        circle(-0.45, -0.08, 0.07, erase=True),
    ),
    "flower": _flower(),
    "sun": _sun(),
    "moon": (circle(0, 0, 0.85), circle(0.38, -0.22, 0.76, erase=True)),
    "leaf": (
        ellipse(0, 0, 0.42, 0.82, rot=0.5),
        line((0.4, 0.72), (-0.35, -0.6), width=0.05, erase=True),
        line((0.42, 0.68), (0.6, 0.95), width=0.07),
    ),
    "cloud": (
        circle(-0.45, 0.12, 0.36),
        circle(0.0, -0.12, 0.48),
        circle(0.45, 0.12, 0.36),
        rect(-0.45, 0.1, 0.45, 0.48),
    ),
    "lightning": (
        poly(
            (0.25, -0.95),
            (-0.45, 0.12),
            (0.0, 0.12),
            (-0.22, 0.95),
            (0.5, -0.18),
            (0.05, -0.18),
            (0.38, -0.95),
        ),
    ),
    "mushroom": (
        ellipse(0, 0.0, 0.88, 0.72, PI, TAU),
        rect(-0.22, -0.02, 0.22, 0.75),
        circle(-0.35, -0.35, 0.1, erase=True),
    ),
    "bird": (
        ellipse(-0.05, 0.12, 0.55, 0.35),
        circle(0.45, -0.25, 0.26),
        poly((0.65, -0.32), (0.92, -0.2), (0.66, -0.15)),
        poly((-0.5, 0.05), (-0.95, -0.25), (-0.88, 0.25)),
        circle(0.5, -0.3, 0.05, erase=True),
        line((0.0, 0.45), (0.05, 0.75), width=0.05),
        line((0.2, 0.42), (0.25, 0.75), width=0.05),
    ),
    "cat": (
        circle(0, 0.12, 0.66),
        poly((-0.62, -0.05), (-0.55, -0.85), (-0.12, -0.45)),
        poly((0.62, -0.05), (0.55, -0.85), (0.12, -0.45)),
        ellipse(-0.25, 0.0, 0.09, 0.13, erase=True),
        ellipse(0.25, 0.0, 0.09, 0.13, erase=True),
        poly((-0.08, 0.25), (0.08, 0.25), (0, 0.35), erase=True),
    ),
    "butterfly": _butterfly(),
    "mountain": (poly((-0.95, 0.7), (-0.38, -0.35), (-0.12, 0.0), (0.3, -0.78), (0.95, 0.7)),),
    "snowman": (circle(0, 0.48, 0.44), circle(0, -0.18, 0.33), circle(0, -0.68, 0.24)),
    "cactus": (
        line((0, -0.8), (0, 0.92), width=0.34),
        line((0, 0.3), (-0.5, 0.3), (-0.5, -0.25), width=0.22),
        line((0, 0.05), (0.5, 0.05), (0.5, -0.5), width=0.22),
    ),
    "snowflake": _snowflake(),
    "turtle": (
        ellipse(0, 0.1, 0.62, 0.62, PI, TAU),
        rect(-0.62, 0.08, 0.62, 0.22),
        circle(0.78, 0.0, 0.17),
        rect(-0.5, 0.2, -0.3, 0.45),
        rect(0.3, 0.2, 0.5, 0.45),
        poly((-0.62, 0.12), (-0.85, 0.2), (-0.62, 0.22)),
    ),
    "rainbow": (
        arc(0, 0.45, 0.85, 0.85, PI, TAU, width=0.2),
        arc(0, 0.45, 0.6, 0.6, PI, TAU, width=0.2),
        arc(0, 0.45, 0.35, 0.35, PI, TAU, width=0.2),
    ),
    "starfish": (star(5, 0.95, 0.45),),
}
