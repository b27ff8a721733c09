"""Paired verdicts against hand-computed t-intervals (t quantiles from a printed table)."""

from __future__ import annotations

import math

import pytest

from synthmphn.stats import (
    HELD,
    NOT_SEPARABLE,
    REVERSED,
    compare_variants,
    paired_by_seed,
    paired_comparison,
)

# Two-sided 95 % Student t quantiles t_{0.975, df} from a standard table.
T_975 = {2: 4.303, 3: 3.182}


def test_three_seeds_with_a_small_gap_are_not_separable() -> None:
    # d = 0.1, 0.2, 0.3: mean 0.2, s_d = 0.1, half-width 4.303 · 0.1 / √3 = 0.2484
    result = paired_comparison([1.1, 1.2, 1.3], [1.0, 1.0, 1.0])
    half = T_975[2] * 0.1 / math.sqrt(3)
    assert result.mean_diff == pytest.approx(0.2)
    assert (result.low, result.high) == (
        pytest.approx(0.2 - half, abs=1e-3),
        pytest.approx(0.2 + half, abs=1e-3),
    )
    assert result.n == 3 and result.verdict == NOT_SEPARABLE


def test_a_consistent_gap_is_held_and_its_mirror_reversed() -> None:
    # d = 0.5, 0.6, 0.7, 0.8: mean 0.65, s_d = 0.12910, half-width 3.182 · 0.12910 / 2 = 0.2054
    a, b = [0.5, 0.6, 0.7, 0.8], [0.0, 0.0, 0.0, 0.0]
    held = paired_comparison(a, b)
    assert held.low == pytest.approx(0.65 - 0.2054, abs=1e-3) and held.high == pytest.approx(0.8554, abs=1e-3)
    assert held.verdict == HELD
    assert paired_comparison(b, a).verdict == REVERSED


def test_pairing_removes_the_shared_seed_effect() -> None:
    # Seeds move both variants alike (std across seeds 0.1 >> gap 0.01), the gap itself is steady.
    a, b = [0.51, 0.71, 0.61], [0.50, 0.70, 0.60]
    assert paired_comparison(a, b).verdict == HELD


def test_too_few_pairs_and_bad_input() -> None:
    one = paired_comparison([1.0], [0.0])
    assert one.verdict == NOT_SEPARABLE and one.to_dict()["low"] is None
    with pytest.raises(ValueError, match="equal lengths"):
        paired_comparison([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="unknown interval method"):
        paired_comparison([1.0, 2.0], [0.0, 0.0], method="jackknife")  # type: ignore[arg-type]


def test_bootstrap_is_seeded_and_close_to_the_percentiles() -> None:
    a, b = [0.5, 0.6, 0.7, 0.8, 0.9], [0.0] * 5
    first = paired_comparison(a, b, method="bootstrap", seed=3)
    assert first == paired_comparison(a, b, method="bootstrap", seed=3)
    assert 0.5 <= first.low < 0.7 < first.high <= 0.9 and first.verdict == HELD


def test_paired_by_seed_uses_the_common_seeds() -> None:
    result = paired_by_seed({0: 0.5, 1: 0.6, 2: None, 3: 0.7}, {0: 0.0, 1: 0.0, 2: 0.1, 3: 0.0, 4: 0.2})
    assert result.n == 3 and result.mean_diff == pytest.approx(0.6)


def test_compare_variants_on_an_experiment_table() -> None:
    table = {
        "mpclip": {0: {"acc": 0.80}, 1: {"acc": 0.82}, 2: {"acc": 0.81}},
        "clip": {0: {"acc": 0.70}, 1: {"acc": 0.71}, 2: {"acc": 0.69, "other": 1.0}},
    }
    result = compare_variants(table, "acc", "mpclip", "clip")
    assert result.n == 3 and result.mean_diff == pytest.approx(0.11) and result.verdict == HELD
    with pytest.raises(KeyError, match="known: clip, mpclip"):
        compare_variants(table, "acc", "mpclip", "siglip")
