"""Verdicts with uncertainty: is variant A better than variant B, from paired per-seed values?

A claim "A > B" is called only from the paired differences d_s = a_s − b_s (same seed, so the same data
and the same noise draws where the two runs share them) and a 95 % confidence interval of their mean:

    t (default)   d̄ ± t_{1−α/2, n−1} · s_d / √n          (s_d = sample std of the d_s, n = pairs)
    bootstrap     percentiles α/2, 1 − α/2 of the means of `n_boot` resamples of the d_s (seeded)

Verdict: "held" when the interval lies above 0, "reversed" when it lies below 0, "not separable"
otherwise (also with fewer than 2 pairs, where there is no interval). A gap inside one std of the seeds is
therefore never a verdict. One helper serves the simulation summary (theory/) and the image grids' reports.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from scipy.stats import t as student_t

HELD, REVERSED, NOT_SEPARABLE = "held", "reversed", "not separable"
Method = Literal["t", "bootstrap"]


@dataclass(frozen=True)
class PairedComparison:
    """Mean of a − b over n pairs, its confidence interval [low, high] and the verdict on "a > b"."""

    n: int
    mean_diff: float
    low: float
    high: float
    confidence: float
    method: str
    verdict: str

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON (an interval that does not exist is None)."""
        out = asdict(self)
        for key in ("low", "high", "mean_diff"):
            if not math.isfinite(out[key]):
                out[key] = None
        return out


def verdict_of(low: float, high: float) -> str:
    """ "held" if the interval excludes 0 from above, "reversed" from below, else "not separable"."""
    if low > 0:
        return HELD
    if high < 0:
        return REVERSED
    return NOT_SEPARABLE


def t_interval(diffs: np.ndarray, confidence: float) -> tuple[float, float]:
    """d̄ ± t_{(1+c)/2, n−1} · s_d / √n (scipy's Student t quantile); (−inf, inf) with n < 2."""
    n = len(diffs)
    if n < 2:
        return -math.inf, math.inf
    half = float(student_t.ppf((1 + confidence) / 2, n - 1)) * float(diffs.std(ddof=1)) / math.sqrt(n)
    mean = float(diffs.mean())
    return mean - half, mean + half


def bootstrap_interval(diffs: np.ndarray, confidence: float, n_boot: int, seed: int) -> tuple[float, float]:
    """Percentile bootstrap of the mean difference (`n_boot` resamples, numpy seed `seed`)."""
    if len(diffs) < 2:
        return -math.inf, math.inf
    rng = np.random.default_rng(seed)
    means = rng.choice(diffs, size=(n_boot, len(diffs)), replace=True).mean(axis=1)
    alpha = 1 - confidence
    return float(np.quantile(means, alpha / 2)), float(np.quantile(means, 1 - alpha / 2))


def paired_comparison(
    a: Sequence[float],
    b: Sequence[float],
    confidence: float = 0.95,
    method: Method = "t",
    n_boot: int = 10_000,
    seed: int = 0,
) -> PairedComparison:
    """The verdict on "a > b" from pairs (a[i], b[i]) of the same seed (module docstring)."""
    if len(a) != len(b):
        raise ValueError(f"paired values need equal lengths, got {len(a)} and {len(b)}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    diffs = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if method == "t":
        low, high = t_interval(diffs, confidence)
    elif method == "bootstrap":
        low, high = bootstrap_interval(diffs, confidence, n_boot, seed)
    else:
        raise ValueError(f"unknown interval method {method!r}; known: t, bootstrap")
    mean = float(diffs.mean()) if len(diffs) else math.nan
    return PairedComparison(len(diffs), mean, low, high, confidence, method, verdict_of(low, high))


def paired_by_seed(
    a: Mapping[Any, float | None], b: Mapping[Any, float | None], **options: Any
) -> PairedComparison:
    """`paired_comparison` over the seeds (keys) both variants have a value for, in sorted key order."""
    seeds = sorted(k for k in a.keys() & b.keys() if a[k] is not None and b[k] is not None)
    return paired_comparison([a[k] for k in seeds], [b[k] for k in seeds], **options)  # type: ignore[misc]


def compare_variants(
    table: Mapping[str, Mapping[Any, Mapping[str, float]]], metric: str, a: str, b: str, **options: Any
) -> PairedComparison:
    """The verdict on "variant a > variant b" on `metric` of an experiment grid's table
    {variant: {seed: {metric: value}}}, paired by seed (seeds missing the metric on either side are skipped)."""
    for name in (a, b):
        if name not in table:
            raise KeyError(f"variant {name!r} not in the grid; known: {', '.join(sorted(table))}")
    return paired_by_seed(
        {seed: values.get(metric) for seed, values in table[a].items()},
        {seed: values.get(metric) for seed, values in table[b].items()},
        **options,
    )
