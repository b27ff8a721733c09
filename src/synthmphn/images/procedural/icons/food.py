"""Icons of food and what it is served or eaten with.

See `icons/__init__.py` for the coordinate conventions.
"""

from __future__ import annotations

import math

from synthmphn.images.procedural.shapes import (
    Subject,
    arc,
    circle,
    ellipse,
    line,
    poly,
    rect,
    regular,
)

PI = math.pi


FOOD_ICONS: dict[str, Subject] = {
    "cup": (
        poly((-0.55, -0.5), (0.45, -0.5), (0.35, 0.7), (-0.45, 0.7)),
        arc(0.5, 0.05, 0.28, 0.28, -PI / 2, PI / 2, width=0.12),
    ),
    "mug": (rect(-0.6, -0.55, 0.35, 0.7), arc(0.38, 0.07, 0.32, 0.3, -PI / 2, PI / 2, width=0.14)),
    "apple": (
        circle(-0.24, 0.12, 0.55),
        circle(0.24, 0.12, 0.55),
        line((0, -0.35), (0.1, -0.82), width=0.09),
        ellipse(0.3, -0.62, 0.2, 0.09, rot=-0.4),
    ),
    "pear": (circle(0, 0.35, 0.52), ellipse(0, -0.2, 0.3, 0.45), line((0, -0.6), (0.08, -0.92), width=0.08)),
    "cherry": (
        circle(-0.38, 0.5, 0.3),
        circle(0.38, 0.45, 0.3),
        line((-0.38, 0.25), (0.05, -0.75), width=0.06),
        line((0.38, 0.2), (0.05, -0.75), width=0.06),
        ellipse(0.3, -0.75, 0.25, 0.09, rot=-0.2),
    ),
    "banana": (
        circle(0, -0.25, 0.85),
        ellipse(0.05, -0.62, 0.95, 0.9, erase=True),
        rect(0.62, -0.5, 0.8, -0.3),
    ),
    "carrot": (
        poly((-0.22, -0.45), (0.22, -0.45), (0, 0.95)),
        line((0, -0.45), (-0.25, -0.9), width=0.08),
        line((0, -0.45), (0, -0.95), width=0.08),
        line((0, -0.45), (0.25, -0.9), width=0.08),
    ),
    "bottle": (
        poly(
            (-0.3, 0.9),
            (0.3, 0.9),
            (0.3, -0.15),
            (0.12, -0.45),
            (0.12, -0.88),
            (-0.12, -0.88),
            (-0.12, -0.45),
            (-0.3, -0.15),
        ),
    ),
    "ice cream": (
        poly((-0.36, -0.1), (0.36, -0.1), (0, 0.95)),
        line((-0.22, 0.05), (0.1, 0.6), width=0.05, erase=True),
        line((0.22, 0.05), (-0.1, 0.6), width=0.05, erase=True),
        circle(0, -0.38, 0.44),
    ),
    "bone": (
        rect(-0.6, -0.13, 0.6, 0.13),
        circle(-0.65, -0.18, 0.2),
        circle(-0.65, 0.18, 0.2),
        circle(0.65, -0.18, 0.2),
        circle(0.65, 0.18, 0.2),
    ),
    "spoon": (ellipse(0, -0.5, 0.3, 0.42), line((0, -0.2), (0, 0.92), width=0.12)),
    "egg": (ellipse(0, 0.1, 0.62, 0.82),),
    "nut": (regular(6, 0.88, rot=0.0), circle(0, 0, 0.38, erase=True)),
}
