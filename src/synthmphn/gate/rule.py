"""The gate's rule: which images fail, and what is left of a group once they are acted on.

An image passes when `own >= gate.threshold` and (when a partner was judged) `margin >= gate.margin`; the
`oracle` action ignores the scores and fails exactly the images whose record names a failure. Dropping
is per image; a caption left with fewer than `gate.min_images` images is removed with them: a negative
alone, a base caption with its whole group (a shard sample needs a base image, and its negatives are
edits of it).
"""

from __future__ import annotations

from collections.abc import Callable

from synthmphn.config import GateConfig
from synthmphn.data.records import Group, ImageRecord
from synthmphn.gate.scoring import Score


def verdict(score: Score, cfg: GateConfig) -> str | None:
    """Why an image fails the gate ("own": its caption is not matched, "partner": the partner caption
    matches about as well or better), or None when it passes."""
    if score.own < cfg.threshold:
        return "own"
    if score.margin is not None and score.margin < cfg.margin:
        return "partner"
    return None


def prune_group(group: Group, drop: Callable[[ImageRecord], bool], min_images: int) -> Group | None:
    """The group without the images `drop` selects; None when its base caption keeps < `min_images` images.

    A negative left with fewer than `min_images` images is removed (the group stays, with fewer negatives).
    """
    base = [r for r in group.images if not drop(r)]
    if len(base) < min_images:
        return None
    negatives = []
    for negative in group.negatives:
        kept = [r for r in negative.images if not drop(r)]
        if len(kept) >= min_images:
            negatives.append(negative.model_copy(update={"images": kept}))
    return group.model_copy(update={"images": base, "negatives": negatives})


def weigh_group(group: Group, failed: Callable[[ImageRecord], bool], weight: float) -> Group:
    """The group with `ImageRecord.weight = weight` on every failed image (the `downweight` action)."""

    def weighed(records: list[ImageRecord]) -> list[ImageRecord]:
        return [r.model_copy(update={"weight": weight}) if failed(r) else r for r in records]

    return group.model_copy(
        update={
            "images": weighed(group.images),
            "negatives": [n.model_copy(update={"images": weighed(n.images)}) for n in group.negatives],
        }
    )
