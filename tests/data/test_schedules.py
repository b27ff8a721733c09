"""Curricula p(t) and β(t): formulas, warm-up, the registry and ⌊p·B⌋."""

from __future__ import annotations

import math

import pytest

from synthmphn.config import HardnessConfig, ScheduleConfig
from synthmphn.data.schedules import (
    HN_SCHEDULES,
    curve_at,
    hn_beta_at,
    hn_fraction_at,
    max_pairs,
    pairs_in_batch,
)


def test_thesis_default_is_linear_to_half() -> None:
    config = ScheduleConfig(name="linear", p_max=0.5)
    for t in (0.0, 0.1, 0.25, 0.5, 0.99, 1.0):
        assert hn_fraction_at(config, t) == pytest.approx(0.5 * min(1.0, t))


@pytest.mark.parametrize("p_max", [0.2, 0.5])
def test_constant(p_max: float) -> None:
    config = ScheduleConfig(name="constant", p_max=p_max)
    assert [hn_fraction_at(config, t) for t in (0.0, 0.3, 1.0)] == [p_max] * 3


def test_cosine_formula() -> None:
    config = ScheduleConfig(name="cosine", p_max=0.4)
    for t in (0.0, 0.2, 0.5, 0.8, 1.0):
        assert hn_fraction_at(config, t) == pytest.approx(0.4 * (1 - math.cos(math.pi * t)) / 2)


def test_step_plateaus() -> None:
    config = ScheduleConfig(name="step", p_max=0.4, steps=4)
    assert hn_fraction_at(config, 0.0) == pytest.approx(0.1)
    assert hn_fraction_at(config, 0.24) == pytest.approx(0.1)
    assert hn_fraction_at(config, 0.25) == pytest.approx(0.2)
    assert hn_fraction_at(config, 0.6) == pytest.approx(0.3)
    assert hn_fraction_at(config, 0.99) == pytest.approx(0.4)
    assert hn_fraction_at(config, 1.0) == pytest.approx(0.4)
    one = ScheduleConfig(name="step", p_max=0.3, steps=1)
    assert hn_fraction_at(one, 0.0) == hn_fraction_at(one, 1.0) == pytest.approx(0.3)


def test_none_never_pairs() -> None:
    config = ScheduleConfig(name="none", p_max=0.5)
    assert all(hn_fraction_at(config, t / 10) == 0.0 for t in range(11))
    assert max_pairs(config, 128) == 0


@pytest.mark.parametrize("name", HN_SCHEDULES.names())
def test_warmup_means_no_pairs_then_shape_restarts(name: str) -> None:
    config = ScheduleConfig(name=name, p_max=0.5, warmup=0.2)
    plain = ScheduleConfig(name=name, p_max=0.5)
    assert hn_fraction_at(config, 0.0) == hn_fraction_at(config, 0.19) == 0.0
    # after warm-up the shape runs on u = (t - w) / (1 - w)
    assert hn_fraction_at(config, 0.6) == pytest.approx(hn_fraction_at(plain, 0.5))


@pytest.mark.parametrize("name", HN_SCHEDULES.names())
def test_every_schedule_stays_in_range_and_never_decreases(name: str) -> None:
    config = ScheduleConfig(name=name, p_max=0.5, warmup=0.1)
    values = [hn_fraction_at(config, i / 100) for i in range(-5, 106)]
    assert all(0.0 <= v <= 0.5 for v in values)
    assert values == sorted(values)


def test_unknown_name_lists_known_ones() -> None:
    with pytest.raises(KeyError, match="linear"):
        hn_fraction_at(ScheduleConfig(name="zigzag"), 0.5)


def test_pairs_in_batch_is_floor_of_p_times_b() -> None:
    assert pairs_in_batch(0.5, 128) == 64
    assert pairs_in_batch(0.29, 100) == 29  # 0.29 * 100 = 28.999999999999996 in floating point
    assert pairs_in_batch(0.1, 9) == 0
    assert pairs_in_batch(0.5, 7) == 3
    assert max_pairs(ScheduleConfig(name="linear", p_max=0.5), 16) == 8


@pytest.mark.parametrize("name", HN_SCHEDULES.names())
def test_beta_uses_the_same_shapes_scaled_by_its_own_peak(name: str) -> None:
    # β(t) and p(t) share one family: the same shape and warm-up, each scaled by its own peak (β may exceed 0.5).
    share = ScheduleConfig(name=name, p_max=0.5, warmup=0.2, steps=3)
    beta = HardnessConfig(name=name, max=2.0, warmup=0.2, steps=3)
    for t in (0.0, 0.1, 0.2, 0.35, 0.5, 0.8, 1.0):
        assert hn_beta_at(beta, t) == pytest.approx(4.0 * hn_fraction_at(share, t))


def test_beta_linear_and_warmup_by_hand() -> None:
    linear = HardnessConfig(name="linear", max=0.5)
    assert [hn_beta_at(linear, t) for t in (0.0, 0.5, 1.0)] == [0.0, 0.25, 0.5]
    warm = HardnessConfig(name="constant", max=1.5, warmup=0.5)
    assert [hn_beta_at(warm, t) for t in (0.0, 0.49, 0.5, 1.0)] == [0.0, 0.0, 1.5, 1.5]
    assert curve_at(HardnessConfig(name="cosine"), 3.0, 0.5) == pytest.approx(1.5)
