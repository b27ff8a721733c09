"""Training curricula on progress t ∈ [0, 1]: the hard-negative share p(t) (SPEC §3) and the hardness β(t).

p(t) counts pairs per slot (the thesis code's definition): a batch of B slots holds ⌊p(t)·B⌋ base+HN pairs,
filling 2⌊p·B⌋ slots, so p = 0.5 fills the whole batch with pairs and p = 0.25 half of it.

Every curriculum is a *shape* s(u) on the post-warm-up progress u ∈ [0, 1], scaled by its peak v_max:

    u(t) = (t − w) / (1 − w)        for t ≥ w          (w = `warmup`, a fraction of the run)
    v(t) = 0                        for t < w          (warm-up: no pairs / plain InfoNCE)
    v(t) = v_max · s(clamp(u, 0, 1))  otherwise

    p(t) = v(t) with v_max = `train.hn_schedule.p_max`   the share of base+HN pairs (`hn_fraction_at`)
    β(t) = v(t) with v_max = `train.hn_beta.max`          the hardness of a hardness-weighted loss (`hn_beta_at`)

so "how many hard negatives" (p) and "how hard they weigh" (β) use one family and can be scheduled apart or
together. The registered shapes (`HN_SCHEDULES`):

    constant  s(u) = 1
    linear    s(u) = u                          thesis default: p_max = 0.5, w = 0 → p(t) = 0.5·min(1, t)
    cosine    s(u) = (1 − cos(π·u)) / 2          slow start, slow finish
    step      s(u) = (⌊u·S⌋ + 1) / S, capped at 1  S = `steps` equal plateaus v_max/S, 2v_max/S, ..., v_max
    none      s(u) = 0                          never any pairs (every caption a single) / β = 0 throughout

A batch of B slots then holds ⌊p·B⌋ pairs (see `pairs_in_batch`). Schedules are plain functions so a new one
is one decorated function: ``@HN_SCHEDULES.register("mine") def mine(u, config): ...``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from synthmphn.config import CurveConfig, HardnessConfig, ScheduleConfig
from synthmphn.registry import Registry

ScheduleShape = Callable[[float, CurveConfig], float]

HN_SCHEDULES: Registry[ScheduleShape] = Registry("hard-negative schedule")
"""name -> shape s(u, config) in [0, 1] on post-warm-up progress u; `curve_at` scales it by the peak."""

# ⌊p·B⌋ with p·B computed in floating point: 0.29·100 = 28.999999999999996 must count as 29.
_FLOOR_TOLERANCE = 1e-9


@HN_SCHEDULES.register("constant")
def constant(u: float, config: CurveConfig) -> float:
    """s(u) = 1: p = p_max for the whole run (after warm-up). The thesis's "no scheduling" setting."""
    return 1.0


@HN_SCHEDULES.register("linear")
def linear(u: float, config: CurveConfig) -> float:
    """s(u) = u: p rises linearly from 0 to p_max. Thesis default p(t) = 0.5·min(1, t)."""
    return u


@HN_SCHEDULES.register("cosine")
def cosine(u: float, config: CurveConfig) -> float:
    """s(u) = (1 − cos(π·u)) / 2: p rises from 0 to p_max, slowly at both ends."""
    return (1.0 - math.cos(math.pi * u)) / 2.0


@HN_SCHEDULES.register("step")
def step(u: float, config: CurveConfig) -> float:
    """s(u) = min(1, (⌊u·S⌋ + 1) / S) with S = config.steps: S equal plateaus p_max/S, ..., p_max.

    With S = 1 this is `constant`.
    """
    plateaus = config.steps
    return min(1.0, (math.floor(u * plateaus + _FLOOR_TOLERANCE) + 1) / plateaus)


@HN_SCHEDULES.register("none")
def none(u: float, config: CurveConfig) -> float:
    """s(u) = 0: never any pairs; base and HN captions are all singles."""
    return 0.0


def curve_at(config: CurveConfig, peak: float, progress: float) -> float:
    """v(t) for training progress t ∈ [0, 1] (values outside are clamped), peak v_max = `peak`.

    v(t) = 0 during warm-up (t < w), else v_max · s((t − w) / (1 − w)) with s the curve's shape.
    Raises KeyError naming the known schedules when `config.name` is not registered.
    """
    shape = HN_SCHEDULES.get(config.name)
    t = min(1.0, max(0.0, progress))
    if t < config.warmup:
        return 0.0
    u = 1.0 if config.warmup >= 1.0 else (t - config.warmup) / (1.0 - config.warmup)
    value = peak * shape(min(1.0, max(0.0, u)), config)
    return min(peak, max(0.0, value))


def hn_fraction_at(config: ScheduleConfig, progress: float) -> float:
    """p(t): the hard-negative share at progress t, `curve_at` with peak p_max."""
    return curve_at(config, config.p_max, progress)


def hn_beta_at(config: HardnessConfig, progress: float) -> float:
    """β(t): the hardness of a hardness-weighted loss at progress t, `curve_at` with peak `max`."""
    return curve_at(config, config.max, progress)


def pairs_in_batch(fraction: float, batch_size: int) -> int:
    """⌊p·B⌋: how many base+HN pairs a batch of B slots holds (they fill 2⌊p·B⌋ slots; p ≤ 0.5)."""
    return min(batch_size // 2, math.floor(fraction * batch_size + _FLOOR_TOLERANCE))


def max_pairs(config: ScheduleConfig, batch_size: int) -> int:
    """The most pairs any batch of the run holds (0 means the schedule never pairs a caption)."""
    grid = [hn_fraction_at(config, i / 1000) for i in range(1001)]
    return pairs_in_batch(max(grid), batch_size)
