"""Which m images of each caption a training step shows, for a whole batch at once.

The rule (data/batches.py's docstring): an image the gate down-weighted (weight w < 1) is eligible with
probability w, else it goes behind every eligible image; within each part the images are dealt one per
generator at a time (a round robin), the generators in a random order and each generator's images in a
random order; the first m are taken. So with `msm-all` data and m = 2 a caption gets two generators.

How. Every random number is a counter-based draw (`seeding.counter_uniforms`) keyed by the caption's key
(the run seed, the step, the group, the caption) and the image's or generator's index, so the rule becomes
one sort of the batch's images by (caption, part, depth in its generator's shuffled list, the generator's
draw for that part): a few numpy calls per batch instead of a seeded `random.Random` and Python loops per
caption (1.5 ms per quickstart batch, half the time the training loop waited for data). The in-memory
loader (`data/memory.py`) and the DataLoader workers (`CaptionDataset.__getitems__`, a batch per call) both
call `ImageTable.choose_slots`, so they pick the same images.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from synthmphn.data.records import Group, ImageRecord
from synthmphn.data.sampler import CaptionSlot
from synthmphn.seeding import counter_uniforms, derive_seed, fold_keys, row_keys


@dataclass(frozen=True)
class ImageTable:
    """Every caption's images as flat arrays. Captions are numbered group by group, each group's base
    caption then its negatives (`captions`); caption c owns entries start[c] .. start[c] + count[c] − 1, in
    the order of its records. `generator` is an entry's generator as an index among its caption's generator
    names (sorted); `weight` its gate weight (1 when unset)."""

    captions: list[tuple[int, int]]  # caption id -> (group, neg), neg = -1 for the base caption
    first: np.ndarray  # int64 [groups]: the id of group g's base caption (its negative j is first[g] + 1 + j)
    start: np.ndarray  # int64 [captions]
    count: np.ndarray  # int64 [captions]
    generator: np.ndarray  # int64 [entries]
    weight: np.ndarray  # float64 [entries]

    @classmethod
    def of_groups(cls, groups: Sequence[Group]) -> ImageTable:
        """The table of `groups`' captions (a store's `groups`)."""
        captions = [(g, neg) for g, group in enumerate(groups) for neg in range(-1, len(group.negatives))]
        first = np.cumsum([0] + [1 + len(group.negatives) for group in groups[:-1]], dtype=np.int64)
        records = [groups[g].images if neg == -1 else groups[g].negatives[neg].images for g, neg in captions]
        return cls.of_records(records, captions, first)

    @classmethod
    def of_records(
        cls,
        records: Sequence[Sequence[ImageRecord]],
        captions: list[tuple[int, int]] | None = None,
        first: np.ndarray | None = None,
    ) -> ImageTable:
        """The table of captions whose images are `records[c]` (numbered 0.. when `captions` is None)."""
        count = np.array([len(r) for r in records], dtype=np.int64)
        generator: list[int] = []
        for caption in records:
            names = sorted({r.generator for r in caption})
            generator += [names.index(r.generator) for r in caption]
        weight = [1.0 if r.weight is None else r.weight for caption in records for r in caption]
        return cls(
            captions if captions is not None else [(c, -1) for c in range(len(records))],
            first if first is not None else np.arange(len(records), dtype=np.int64),
            np.cumsum(count) - count,
            count,
            np.array(generator, dtype=np.int64),
            np.array(weight, dtype=np.float64),
        )

    def caption_ids(self, groups: np.ndarray, negs: np.ndarray) -> np.ndarray:
        """The caption ids of (group, neg) pairs; IndexError for a negative a group does not have."""
        ids = self.first[groups] + 1 + negs
        ends = np.append(self.first[1:], len(self.captions))[groups]  # one past each group's last caption
        wrong = np.flatnonzero((negs < -1) | (ids >= ends))
        if len(wrong):
            k = wrong[0]
            raise IndexError(
                f"group {groups[k]} has {ends[k] - self.first[groups[k]] - 1} negative(s); "
                f"asked for negative {negs[k]}"
            )
        return ids

    def choose_slots(self, slots: Sequence[CaptionSlot], seed: int, m: int) -> SlotChoice:
        """The images of a batch of `slots` in a run seeded `seed`: `choose` with each slot's caption key
        (seed, step, group, caption)."""
        ids = np.array([(s.step, s.group, s.neg) for s in slots], dtype=np.int64).reshape(-1, 3)
        captions = self.caption_ids(ids[:, 1], ids[:, 2])
        return SlotChoice(ids, captions, self.choose(captions, caption_keys(seed, ids), m))

    def choose(self, captions: np.ndarray, keys: np.ndarray, m: int) -> np.ndarray:
        """int64 [n, m]: the entries chosen for captions `captions` [n] drawn with caption keys `keys` [n]
        (the module docstring's rule). Raises ValueError when a caption has fewer than m images."""
        counts = self.count[captions]
        if len(counts) and counts.min() < m:
            raise ValueError(f"asked for {m} images of a caption that has {counts.min()}")
        owner = np.repeat(np.arange(len(captions)), counts)  # the batch caption of each entry
        offset = np.cumsum(counts) - counts
        local = np.arange(len(owner)) - offset[owner]  # the entry's index among its caption's images
        entry = self.start[captions][owner] + local
        generator = self.generator[entry]
        image_draws = counter_uniforms(fold_keys(keys[owner], local), 2)
        deferred = (image_draws[:, 0] >= self.weight[entry]).astype(np.int64)  # w >= 1: never deferred
        generator_draws = counter_uniforms(fold_keys(keys[owner], -1 - generator), 2)
        generator_order = generator_draws[np.arange(len(owner)), deferred]  # each part its own order
        depth = _ranks_within(image_draws[:, 1], owner, deferred, generator)
        order = np.lexsort((generator_order, depth, deferred, owner))  # grouped by caption, in offset order
        return entry[order[offset[:, None] + np.arange(m)]]


@dataclass(frozen=True)
class SlotChoice:
    """`ImageTable.choose_slots`' answer: each slot's (step, group, neg) row, caption id and chosen entries."""

    ids: np.ndarray  # int64 [n, 3]
    captions: np.ndarray  # int64 [n]
    entries: np.ndarray  # int64 [n, m]


def _ranks_within(values: np.ndarray, *labels: np.ndarray) -> np.ndarray:
    """int64: each value's rank (0 = smallest) among the values that share all of its `labels`."""
    order = np.lexsort((values, *reversed(labels)))
    keys = np.stack([label[order] for label in labels], axis=1)
    starts = np.flatnonzero(np.r_[True, (keys[1:] != keys[:-1]).any(axis=1)])
    sizes = np.diff(np.r_[starts, len(values)])
    ranks = np.empty(len(values), dtype=np.int64)
    ranks[order] = np.arange(len(values)) - np.repeat(starts, sizes)
    return ranks


def caption_keys(seed: int, slots: np.ndarray) -> np.ndarray:
    """uint64 [n]: the key of the image choice of each row (step, group, neg) of `slots` [n, 3] in a run
    seeded `seed`."""
    return row_keys(derive_seed(seed, "images"), slots)
