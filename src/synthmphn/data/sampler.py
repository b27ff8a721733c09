"""The group-aware batch sampler: B caption slots per batch, up to ⌊p(t)·B⌋ of them base+HN pairs (SPEC §3).

p counts pairs per slot, as in the thesis code: ⌊p·B⌋ pairs fill 2⌊p·B⌋ slots, so p = 0.5 fills the whole
batch with pairs and p = 0.25 half of it.

A *caption* is a group's base caption or one of its hard negatives. Each epoch, every group contributes its
base caption and one negative (negative ``j = epoch mod n_negatives``, so several negatives take turns across
epochs; a group without negatives contributes its base only). Groups are visited in a fresh permutation
per epoch, seeded by (seed, epoch).

Batch k (progress t = k / total_steps) targets P = ⌊p(t)·B⌋ pairs, filled in this order:

1. singles from the *deferred* queue (counterparts of earlier singles, oldest first), up to B − 2P of them
   and at least one, so a counterpart never waits for ever when pairs would fill every slot;
2. the next fresh groups in stream order: a group with a negative becomes a pair, laid out as slots
   (2i, 2i+1) = (base, HN), while fewer than P pairs are planned and two slots are left; otherwise a
   single: a group without negatives its base, a group with one a coin flip (seeded by (seed, k)) between
   base and HN, the other caption joining the deferred queue.

Groups without negatives are never passed over (they take one slot where they come in the stream), so
every caption is seen once per epoch (±1) whatever share of groups lacks negatives; the price is that such
a batch holds fewer than P pairs (measured: at p = 0.5, B = 16 and 25% of groups lacking negatives, 6.4 of 8 on average).

A group appears at most once per batch; a group that would repeat (a deferred counterpart meeting its own
group's next-epoch visit) waits for the next batch. Pairs come first in the batch, then singles.

Determinism: the batch sequence is a pure function of (groups' negative counts, batch size, schedule,
total_steps, seed). The sampler's checkpoint state is just the step; resuming *replays* the cheap bookkeeping
from step 0 (no images are touched), so the continued sequence equals the uninterrupted one exactly.
Changing `total_steps` on resume changes p(t) and therefore the replayed history (a valid run, not a
bit-exact one).

DataLoader and DDP: the trainer (not the sampler's iteration position, which runs ahead when the loader
prefetches) decides the step: `batches_from(step)` starts anywhere. Under DDP every rank builds the same
global batch and keeps its contiguous block of B/W slots; B/W must be even so no pair straddles ranks
(pairs sit at even slot positions).
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from synthmphn.config import ScheduleConfig
from synthmphn.data.records import Group
from synthmphn.data.schedules import hn_fraction_at, pairs_in_batch
from synthmphn.seeding import derive_seed

STATE_VERSION = 2  # 2: groups without negatives keep their place (issue #12); v1 sequences differ


class CaptionSlot(NamedTuple):
    """One caption of a batch: group index, which caption (-1 = base, j = negative j), its pair partner.

    `partner` is the index of the partner slot in the same batch (rank-local under DDP), or -1 for a single.
    `step` is the batch the slot belongs to (it seeds the choice of images).
    """

    group: int
    neg: int = -1
    partner: int = -1
    step: int = 0


class _Cursor:
    """The sampler's bookkeeping at the start of batch `step`: the fresh-group stream and the deferred queue."""

    def __init__(self) -> None:
        self.step = 0
        self.next_epoch = 0
        self.fresh: deque[tuple[int, int]] = deque()  # (group, epoch) not yet used, in visiting order
        self.deferred: deque[tuple[int, int]] = deque()  # (group, neg) counterparts of earlier singles


class GroupBatchSampler:
    """Yields batches of `CaptionSlot`s (see the module docstring for the algorithm).

    Args:
        groups: the training groups (only their number of negatives is used).
        batch_size: B, caption slots per global batch (all ranks together).
        schedule: the hard-negative curriculum p(t).
        total_steps: batches in the run (progress t = step / total_steps).
        seed: run seed; every permutation and coin flip derives from it.
        negatives: False trains on base captions only (no pairs, no HN singles).
        rank, world_size: this process's share of each global batch under DDP.
    """

    def __init__(
        self,
        groups: Sequence[Group],
        batch_size: int,
        schedule: ScheduleConfig,
        total_steps: int,
        seed: int,
        negatives: bool = True,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.n_negatives = [len(g.negatives) if negatives else 0 for g in groups]
        self.batch_size = batch_size
        self.schedule = schedule
        self.total_steps = total_steps
        self.seed = seed
        self.negatives = negatives and any(self.n_negatives)
        self.rank = rank
        self.world_size = world_size
        self.start_step = 0
        self._cached = _Cursor()
        _check_sizes(len(self.n_negatives), batch_size, world_size, self.negatives)
        hn_fraction_at(schedule, 0.0)  # unknown schedule names fail here, listing the known ones

    # ------------------------------------------------------------------ sizes

    @property
    def captions_per_epoch(self) -> int:
        """Captions one epoch visits: each group's base plus one negative where it has any."""
        return len(self.n_negatives) + sum(1 for n in self.n_negatives if n > 0)

    @staticmethod
    def count_captions(groups: Sequence[Group], negatives: bool = True) -> int:
        """`captions_per_epoch` of a sampler over `groups`, without building one."""
        return len(groups) + (sum(1 for g in groups if g.negatives) if negatives else 0)

    @property
    def steps_per_epoch(self) -> int:
        """Full batches per epoch, ⌊captions_per_epoch / B⌋ (at least 1)."""
        return max(1, self.captions_per_epoch // self.batch_size)

    def epoch_at(self, step: int) -> float:
        """Epochs completed (fractional) at the start of batch `step`."""
        return step * self.batch_size / self.captions_per_epoch

    def pairs_at(self, step: int) -> int:
        """⌊p(t)·B⌋, the pairs batch `step` aims for (0 when training on base captions only); a batch holds
        fewer when deferred counterparts or groups without negatives need the slots."""
        if not self.negatives:
            return 0
        return pairs_in_batch(hn_fraction_at(self.schedule, step / self.total_steps), self.batch_size)

    # ------------------------------------------------------------------ batches

    def batch_at(self, step: int) -> list[CaptionSlot]:
        """The global batch `step` (all B slots), replaying bookkeeping from the nearest cached point."""
        if step < self._cached.step:
            self._cached = _Cursor()
        while self._cached.step < step:
            self._build(self._cached)
        return self._build(self._cached)

    def batches_from(self, step: int, stop: int | None = None) -> Iterator[list[CaptionSlot]]:
        """This rank's slots of batches `step`, `step`+1, ... up to `stop` (default `total_steps`)."""
        cursor = _Cursor()
        while cursor.step < step:
            self._build(cursor)
        while cursor.step < (self.total_steps if stop is None else stop):
            yield rank_slice(self._build(cursor), self.rank, self.world_size)

    def __iter__(self) -> Iterator[list[CaptionSlot]]:
        """This rank's batches from `start_step` (set by `load_state_dict`) to the end of the run."""
        return self.batches_from(self.start_step)

    def __len__(self) -> int:
        return max(0, self.total_steps - self.start_step)

    # ------------------------------------------------------------------ state

    def state_dict(self, step: int) -> dict[str, Any]:
        """Checkpoint state when the trainer has consumed batches [0, step): primitives only."""
        return {
            "version": STATE_VERSION,
            "step": step,
            "seed": self.seed,
            "batch_size": self.batch_size,
            "n_groups": len(self.n_negatives),
            "captions_per_epoch": self.captions_per_epoch,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continues from a checkpoint's state; raises ValueError naming any field that differs."""
        mine = self.state_dict(int(state.get("step", 0)))
        wrong = [
            f"{k}: checkpoint {state.get(k)!r} vs now {v!r}" for k, v in mine.items() if state.get(k) != v
        ]
        if wrong:
            raise ValueError("sampler state does not match this dataset/config: " + "; ".join(wrong))
        self.start_step = int(state["step"])

    # ------------------------------------------------------------------ the algorithm

    def _build(self, cursor: _Cursor) -> list[CaptionSlot]:
        """Builds the global batch at `cursor.step` and advances the cursor past it (module doc, steps 1-3)."""
        step = cursor.step
        n_pairs = self.pairs_at(step)
        used: set[int] = set()
        # Deferred counterparts first; at least one even when pairs fill the batch (p = 0.5), so none waits.
        singles = _take_deferred(cursor.deferred, max(self.batch_size - 2 * n_pairs, 1), used)
        pairs: list[tuple[int, int]] = []
        coin = random.Random(derive_seed(self.seed, "hn-single", step))
        skipped: list[tuple[int, int]] = []
        room = self.batch_size - len(singles)
        while room > 0:
            group, epoch = self._next_fresh(cursor, used, skipped)
            if self.n_negatives[group] > 0 and len(pairs) < n_pairs and room >= 2:
                pairs.append((group, epoch))
                room -= 2
            else:  # no negatives, the batch's pairs are done, or one slot is left
                singles.append(self._single(group, epoch, coin, cursor.deferred))
                room -= 1
        cursor.fresh.extendleft(reversed(skipped))  # passed-over items keep their place
        slots = []
        for group, epoch in pairs:
            base = len(slots)
            slots.append(CaptionSlot(group, -1, base + 1, step))
            slots.append(CaptionSlot(group, self._negative_of(group, epoch), base, step))
        slots.extend(CaptionSlot(group, neg, -1, step) for group, neg in singles)
        cursor.step += 1
        return slots

    def _negative_of(self, group: int, epoch: int) -> int:
        """Which negative of `group` epoch `epoch` uses: they take turns."""
        return epoch % self.n_negatives[group]

    def _single(
        self, group: int, epoch: int, coin: random.Random, deferred: deque[tuple[int, int]]
    ) -> tuple[int, int]:
        """A fresh group as a single: base or HN by coin flip, the other caption deferred."""
        if self.n_negatives[group] == 0:
            return group, -1
        negative = self._negative_of(group, epoch)
        chosen, other = (-1, negative) if coin.random() < 0.5 else (negative, -1)
        deferred.append((group, other))
        return group, chosen

    def _next_fresh(self, cursor: _Cursor, used: set[int], skipped: list[tuple[int, int]]) -> tuple[int, int]:
        """The next fresh (group, epoch) of the stream whose group is not yet in the batch (marked used).

        Items passed over go to `skipped` (the caller puts them back at the front). It always ends: the
        stream is refilled a permutation at a time and a batch uses fewer than n_groups >= B groups.
        """
        while True:
            if not cursor.fresh:
                self._append_epoch(cursor)
            group, epoch = item = cursor.fresh.popleft()
            if group not in used:
                used.add(group)
                return item
            skipped.append(item)

    def _append_epoch(self, cursor: _Cursor) -> None:
        """Appends the next epoch's permutation of the groups to the fresh stream."""
        order = list(range(len(self.n_negatives)))
        random.Random(derive_seed(self.seed, "epoch", cursor.next_epoch)).shuffle(order)
        cursor.fresh.extend((group, cursor.next_epoch) for group in order)
        cursor.next_epoch += 1


def _take_deferred(deferred: deque[tuple[int, int]], count: int, used: set[int]) -> list[tuple[int, int]]:
    """Takes up to `count` deferred captions, oldest first, skipping groups already in the batch."""
    taken: list[tuple[int, int]] = []
    skipped: list[tuple[int, int]] = []
    while deferred and len(taken) < count:
        item = deferred.popleft()
        if item[0] in used:
            skipped.append(item)
            continue
        used.add(item[0])
        taken.append(item)
    deferred.extendleft(reversed(skipped))
    return taken


def rank_slice(slots: list[CaptionSlot], rank: int, world_size: int) -> list[CaptionSlot]:
    """Rank `rank`'s contiguous block of B/W slots, with partner indices made local to the block."""
    if world_size == 1:
        return slots
    per_rank = len(slots) // world_size
    start = rank * per_rank
    block = slots[start : start + per_rank]
    return [s._replace(partner=s.partner - start) if s.partner >= 0 else s for s in block]


def _check_sizes(n_groups: int, batch_size: int, world_size: int, negatives: bool) -> None:
    """Fails early, naming the setting, when batches cannot be filled or split across ranks."""
    if n_groups < batch_size:
        raise ValueError(
            f"the dataset has {n_groups} training groups, fewer than train.batch_size={batch_size}; "
            "a batch holds each group at most once: lower train.batch_size or build more groups"
        )
    if batch_size % world_size:
        raise ValueError(f"train.batch_size={batch_size} is not divisible by the {world_size} processes")
    if negatives and world_size > 1 and (batch_size // world_size) % 2:
        raise ValueError(
            f"train.batch_size={batch_size} gives {batch_size // world_size} slots per process; "
            "it must be even so base+HN pairs never straddle processes"
        )
