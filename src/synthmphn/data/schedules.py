"""Hard-negative curricula p(t): a batch of B slots holds ⌊p(t)·B⌋ base+HN pairs at progress t (SPEC §3).

p counts pairs per slot (the thesis code's definition): the pairs fill 2⌊p·B⌋ slots, so p = 0.5 fills the
whole batch with pairs and p = 0.25 half of it.

Every schedule is a *shape* s(u) on the post-warm-up progress u ∈ [0, 1], scaled by p_max:

    u(t) = (t − w) / (1 − w)        for t ≥ w          (w = `warmup`, a fraction of the run)
    p(t) = 0                        for t < w          (warm-up: no pairs, every caption a single)
    p(t) = p_max · s(clamp(u, 0, 1))  otherwise

The registered shapes (`HN_SCHEDULES`):

    constant  s(u) = 1
    linear    s(u) = u                          thesis default: p_max = 0.5, w = 0 → p(t) = 0.5·min(1, t)
    cosine    s(u) = (1 − cos(π·u)) / 2          slow start, slow finish
    step      s(u) = (⌊u·S⌋ + 1) / S, capped at 1  S = `steps` equal plateaus p_max/S, 2p_max/S, ..., p_max
    none      s(u) = 0                          no pairs at all (every caption is a single)

A batch of B slots then holds ⌊p·B⌋ pairs (see `pairs_in_batch`). Schedules are plain functions so a new one
is one decorated function: ``@HN_SCHEDULES.register("mine") def mine(u, config): ...``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from synthmphn.config import ScheduleConfig
from synthmphn.registry import Registry

ScheduleShape = Callable[[float, ScheduleConfig], float]

HN_SCHEDULES: Registry[ScheduleShape] = Registry("hard-negative schedule")
"""name -> shape s(u, config) in [0, 1] on post-warm-up progress u; `hn_fraction_at` scales it by p_max."""

# ⌊p·B⌋ with p·B computed in floating point: 0.29·100 = 28.999999999999996 must count as 29.
_FLOOR_TOLERANCE = 1e-9


@HN_SCHEDULES.register("constant")
def constant(u: float, config: ScheduleConfig) -> float:
    """s(u) = 1: p = p_max for the whole run (after warm-up). The thesis's "no scheduling" setting."""
    return 1.0


@HN_SCHEDULES.register("linear")
def linear(u: float, config: ScheduleConfig) -> float:
    """s(u) = u: p rises linearly from 0 to p_max. Thesis default p(t) = 0.5·min(1, t)."""
    return u


@HN_SCHEDULES.register("cosine")
def cosine(u: float, config: ScheduleConfig) -> float:
    """s(u) = (1 − cos(π·u)) / 2: p rises from 0 to p_max, slowly at both ends."""
    return (1.0 - math.cos(math.pi * u)) / 2.0


@HN_SCHEDULES.register("step")
def step(u: float, config: ScheduleConfig) -> float:
    """s(u) = min(1, (⌊u·S⌋ + 1) / S) with S = config.steps: S equal plateaus p_max/S, ..., p_max.

    With S = 1 this is `constant`.
    """
    plateaus = config.steps
    return min(1.0, (math.floor(u * plateaus + _FLOOR_TOLERANCE) + 1) / plateaus)


@HN_SCHEDULES.register("none")
def none(u: float, config: ScheduleConfig) -> float:
    """s(u) = 0: never any pairs; base and HN captions are all singles."""
    return 0.0


def hn_fraction_at(config: ScheduleConfig, progress: float) -> float:
    """p(t) for training progress t ∈ [0, 1] (values outside are clamped).

    p(t) = 0 during warm-up (t < w), else p_max · s((t − w) / (1 − w)) with s the schedule's shape.
    Raises KeyError naming the known schedules when `config.name` is not registered.
    """
    shape = HN_SCHEDULES.get(config.name)
    t = min(1.0, max(0.0, progress))
    if t < config.warmup:
        return 0.0
    u = 1.0 if config.warmup >= 1.0 else (t - config.warmup) / (1.0 - config.warmup)
    value = config.p_max * shape(min(1.0, max(0.0, u)), config)
    return min(config.p_max, max(0.0, value))


def pairs_in_batch(fraction: float, batch_size: int) -> int:
    """⌊p·B⌋: how many base+HN pairs a batch of B slots holds (they fill 2⌊p·B⌋ slots; p ≤ 0.5)."""
    return min(batch_size // 2, math.floor(fraction * batch_size + _FLOOR_TOLERANCE))


def max_pairs(config: ScheduleConfig, batch_size: int) -> int:
    """The most pairs any batch of the run holds (0 means the schedule never pairs a caption)."""
    grid = [hn_fraction_at(config, i / 1000) for i in range(1001)]
    return pairs_in_batch(max(grid), batch_size)
