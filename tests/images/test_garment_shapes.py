"""Garment silhouettes have Fashion-MNIST's proportions, per-instance variation and grey (not cut) seams."""

from __future__ import annotations

import numpy as np
import pytest

from synthmphn.images.procedural.garments import SEAM, garment_parts
from synthmphn.images.procedural.shapes import linear_map, rasterize

SIDE = 64


def _mask(subject: str, rng: np.random.Generator | None) -> np.ndarray:
    return rasterize(garment_parts(subject, rng), SIDE, SIDE - 4, linear_map())


def _box(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask > 0.35)
    return mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def _aspects(subject: str, n: int = 40) -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.array([np.divide(*_box(_mask(subject, rng)).shape) for _ in range(n)])


@pytest.mark.parametrize(
    ("subject", "low", "high"),
    [
        ("trouser", 2.0, 3.2),  # long and narrow, like Fashion-MNIST's (median height/width 2.5)
        ("dress", 1.7, 3.0),
        ("t shirt", 0.95, 1.5),  # tops about as wide as tall (sleeves hang by the body)
        ("pullover", 1.1, 1.5),
        ("shirt", 1.1, 1.5),
        ("coat", 1.2, 1.7),
        ("sandal", 0.25, 0.65),  # shoes long and low
        ("sneaker", 0.3, 0.55),
        ("ankle boot", 0.6, 1.0),
        ("bag", 0.5, 1.0),
    ],
)
def test_garment_proportions(subject: str, low: float, high: float) -> None:
    aspects = _aspects(subject)
    assert low <= float(np.median(aspects)) <= high
    assert float(aspects.std()) > 0.02  # the shape varies per instance


def test_tops_are_shorter_than_trousers_and_dresses() -> None:
    tops = max(float(np.median(_aspects(s))) for s in ("t shirt", "pullover", "shirt", "coat"))
    assert tops < min(float(np.median(_aspects(s))) for s in ("trouser", "dress"))


def test_trouser_legs_are_apart_and_sandals_are_open() -> None:
    rng = np.random.default_rng(1)
    for _ in range(20):
        box = _box(_mask("trouser", rng)) > 0.5
        hem = box[-2]
        ink = np.flatnonzero(hem)
        assert not hem[ink[0] : ink[-1] + 1].all()  # a gap between the legs at the hem
    sandal = np.mean([_box(_mask("sandal", rng)).mean() for _ in range(20)])
    sneaker = np.mean([_box(_mask("sneaker", rng)).mean() for _ in range(20)])
    assert sandal < 0.4 < sneaker  # straps over a sole vs a closed upper


def test_seams_are_grey_not_cut() -> None:
    mask = _mask("shirt", None)  # the canonical shirt: a placket down the middle of the body
    centre = mask[SIDE // 2 : SIDE * 3 // 4, SIDE // 2 - 1 : SIDE // 2 + 1]
    assert abs(float(centre.min()) - SEAM) < 0.1
    assert float(_box(mask).max()) == 1.0


@pytest.mark.parametrize("subject", ["sandal", "sneaker", "ankle boot"])
def test_shoes_face_left(subject: str) -> None:
    rng = np.random.default_rng(2)
    for _ in range(10):
        box = _box(_mask(subject, rng)) > 0.35
        rows = np.flatnonzero(box.any(axis=1))
        top = rows[: max(1, len(rows) // 5)]  # the highest fifth: the ankle / collar, at the heel
        heel_x = float(np.nonzero(box[top])[1].mean())
        assert heel_x > box.shape[1] / 2  # the heel on the right, the toe on the left
