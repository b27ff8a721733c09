"""The image budget of a training config: how many images the loss takes per optimiser step.

Objectives are compared at an equal image budget (issue #12): a grid's variants must see the same number
of images per step, so a gain cannot come from simply seeing more images. Per micro-batch of B caption
slots with m images each (train.batch_size, train.images_per_caption):

    images = m · B                      losses that take every image of the batch (clip, mpclip, ...)
    images = m · (B − P̄)                 losses that ignore hard-negative images (negclip)
    images per step = accum_steps · images

P̄ = the mean over the run of the pairs per batch ⌊p(t)·B⌋ (each pair's HN slot is an image-less column
for such a loss), assuming every group has a hard negative (the sampler's target; a batch may hold fewer
pairs when some groups lack negatives). The mean is taken on 1,001 evenly spaced progress points.
"""

from __future__ import annotations

from synthmphn.config import TrainConfig
from synthmphn.data.schedules import hn_fraction_at, pairs_in_batch
from synthmphn.losses import LOSSES

PROGRESS_POINTS = 1001


def mean_pairs_per_batch(tc: TrainConfig) -> float:
    """P̄: ⌊p(t)·B⌋ averaged over t on `PROGRESS_POINTS` evenly spaced points of [0, 1]."""
    points = [i / (PROGRESS_POINTS - 1) for i in range(PROGRESS_POINTS)]
    pairs = [pairs_in_batch(hn_fraction_at(tc.hn_schedule, t), tc.batch_size) for t in points]
    return sum(pairs) / len(pairs)


def images_per_step(tc: TrainConfig) -> float:
    """Images the loss takes per optimiser step (module docstring): accum · m · (B − P̄ if HN images unused)."""
    slots = float(tc.batch_size)
    if not LOSSES.get(tc.loss).uses_negative_images:
        slots -= mean_pairs_per_batch(tc)
    return tc.accum_steps * tc.images_per_caption * slots
