"""Digits drawn when a caption names no size or position look like MNIST's: large, centred, 2-3 px strokes.

Measured on the rendered pixels (grey, canonical polarity: ink dark), the way the transfer ceiling
(`synthmphn analyse`) sees them. Real MNIST gives a stroke width of 2.1 px by the same estimator.
"""

from __future__ import annotations

import numpy as np
import pytest

from synthmphn.data.records import CaptionSpec
from synthmphn.eval.classifier import canonical_polarity, pixels
from synthmphn.images.procedural import TRAINING_STYLES, create_procedural_generator

N = 20
SIDE = 32


def _renders(style: str) -> list:
    generator = create_procedural_generator(style, SIDE)
    specs = [CaptionSpec(subject=f"digit {i % 10}", category="digit") for i in range(N)]
    return generator.generate([""] * N, specs, list(range(N)))


def stroke_width(ink: np.ndarray) -> float:
    """2 * area / perimeter of the binarised ink: a stroke of width w and length L >> w gives w."""
    on = ink > 0.5
    perimeter = (on[1:] != on[:-1]).sum() + (on[:, 1:] != on[:, :-1]).sum()
    return 2.0 * float(on.sum()) / max(int(perimeter), 1)


def test_stroke_width_estimator_on_a_drawn_bar():
    ink = np.zeros((28, 28), dtype=np.float32)
    ink[4:24, 10:13] = 1.0  # a 3 px wide, 20 px long bar: 2 * 60 / (2 * 20 + 2 * 3) = 2.61
    assert stroke_width(ink) == pytest.approx(120 / 46)


@pytest.mark.parametrize("style", TRAINING_STYLES)
def test_default_digits_are_large_centred_and_mnist_thick(style):
    images = _renders(style)
    offsets, heights = [], []
    yy, xx = np.mgrid[0:SIDE, 0:SIDE]
    for image in images:
        ink = 1.0 - canonical_polarity(np.asarray(image.convert("L"), dtype=np.float32) / 255.0)
        mass = ink * (ink > 0.35)
        assert mass.sum() > 0, f"{style}: a digit with no ink"
        cy, cx = (mass * yy).sum() / mass.sum(), (mass * xx).sum() / mass.sum()
        offsets.append(float(np.hypot(cy - (SIDE - 1) / 2, cx - (SIDE - 1) / 2)))
        rows = np.flatnonzero((ink > 0.5).any(axis=1))
        heights.append((rows[-1] - rows[0] + 1) / SIDE)
    # centre of ink mass: always within 6 px of the image centre, typically within 3.5 px
    assert max(offsets) < 6.0 and float(np.median(offsets)) < 3.5, (style, offsets)
    # large: the ink spans most of the height (MNIST: 20 of 28 px = 0.71)
    assert float(np.median(heights)) > 0.65 and min(heights) > 0.3, (style, heights)
    # strokes 1.5-3 px wide once normalised like MNIST (ink box to 20/28, centred by mass)
    normalised = pixels(images, 28, grey=True, centre=True)
    widths = [stroke_width(1.0 - x[0]) for x in normalised]
    assert 1.5 <= float(np.median(widths)) <= 3.0, (style, widths)
