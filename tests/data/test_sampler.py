"""The group-aware batch sampler: ⌊p(t)·B⌋ pairs, every caption once per epoch, determinism, resume, DDP."""

from __future__ import annotations

from collections import Counter

import pytest

from synthmphn.config import ScheduleConfig
from synthmphn.data.records import Group, NegativeCaption
from synthmphn.data.sampler import CaptionSlot, GroupBatchSampler, rank_slice
from synthmphn.data.schedules import hn_fraction_at, pairs_in_batch


def make_groups(n: int, negatives: int = 1, without_negatives: tuple[int, ...] = ()) -> list[Group]:
    return [
        Group(
            id=f"g{i}",
            caption=f"base {i}",
            negatives=[]
            if i in without_negatives
            else [NegativeCaption(text=f"neg {i}.{j}", kind="subject") for j in range(negatives)],
        )
        for i in range(n)
    ]


def sampler(
    groups: list[Group],
    batch_size: int = 8,
    name: str = "linear",
    p_max: float = 0.5,
    total: int = 40,
    seed: int = 0,
    **kw: object,
) -> GroupBatchSampler:
    return GroupBatchSampler(groups, batch_size, ScheduleConfig(name=name, p_max=p_max), total, seed, **kw)


def pairs(batch: list[CaptionSlot]) -> list[tuple[CaptionSlot, CaptionSlot]]:
    return [(s, batch[s.partner]) for s in batch if s.partner >= 0 and s.neg == -1]


@pytest.mark.parametrize("name", ["linear", "cosine", "step", "constant", "none"])
def test_pairs_per_batch_follow_floor_p_b(name: str) -> None:
    s = sampler(make_groups(40), batch_size=10, name=name, total=30)
    deficit = 0
    for step, batch in enumerate(s.batches_from(0)):
        expected = pairs_in_batch(hn_fraction_at(s.schedule, step / 30), 10)
        assert len(batch) == 10 and expected == s.pairs_at(step)
        assert sum(1 for slot in batch if slot.partner >= 0) == 2 * len(pairs(batch))
        if 2 * expected < 10:  # room for singles: exactly ⌊pB⌋ pairs
            assert len(pairs(batch)) == expected
        else:  # pairs fill the batch: a deferred counterpart still takes one slot (one pair fewer)
            assert len(pairs(batch)) in (expected, expected - 1)
            deficit += expected - len(pairs(batch))
    assert deficit <= 10  # only the counterparts deferred before p reached 0.5 (at most B of them)


def test_pairs_are_adjacent_base_then_negative_of_one_group() -> None:
    s = sampler(make_groups(40), name="constant", p_max=0.25)
    for batch in s.batches_from(0, 10):
        for i in range(0, 2 * s.pairs_at(0), 2):
            base, negative = batch[i], batch[i + 1]
            assert (base.partner, negative.partner) == (i + 1, i)
            assert base.group == negative.group and base.neg == -1 and negative.neg >= 0
        assert all(slot.partner == -1 for slot in batch[2 * s.pairs_at(0) :])


@pytest.mark.parametrize(
    ("name", "p_max"), [("none", 0.5), ("constant", 0.25), ("linear", 0.5), ("cosine", 0.3)]
)
def test_every_caption_once_per_epoch(name: str, p_max: float) -> None:
    groups = make_groups(24)  # 48 captions = 6 batches of 8
    s = sampler(groups, name=name, p_max=p_max, total=60)
    assert s.captions_per_epoch == 48 and s.steps_per_epoch == 6
    batches = list(s.batches_from(0))
    seen = Counter((slot.group, slot.neg) for batch in batches[:6] for slot in batch)
    everything = {(g, n) for g in range(24) for n in (-1, 0)}
    if name in ("none", "constant"):  # epochs align with batches: exactly once each
        assert set(seen) == everything and set(seen.values()) == {1}
    # over 10 epochs each caption is seen 10 times, up to one deferral across the boundary
    counts = Counter((slot.group, slot.neg) for batch in batches for slot in batch)
    assert set(counts) == everything
    assert all(9 <= c <= 11 for c in counts.values())


def test_several_negatives_take_turns_across_epochs() -> None:
    s = sampler(make_groups(16, negatives=2), name="constant", p_max=0.5, total=80)
    counts = Counter((slot.group, slot.neg) for batch in s.batches_from(0) for slot in batch)
    assert s.captions_per_epoch == 32
    for g in range(16):
        assert counts[(g, -1)] == 20 and counts[(g, 0)] == 10 and counts[(g, 1)] == 10


def test_no_group_twice_in_a_batch() -> None:
    for n_groups, name in [(8, "linear"), (9, "cosine"), (13, "constant")]:
        s = sampler(make_groups(n_groups), name=name, p_max=0.25, total=200)
        for batch in s.batches_from(0):
            assert len({slot.group for slot in batch}) == len(batch) - len(pairs(batch))


def test_singles_choose_base_or_negative_and_defer_the_other() -> None:
    s = sampler(make_groups(64), batch_size=16, name="none", total=4)
    first, second = s.batch_at(0), s.batch_at(1)
    assert {slot.neg for slot in first} == {-1, 0}  # coin flips pick both kinds
    assert {(slot.group, -1 - slot.neg) for slot in first} == {(slot.group, slot.neg) for slot in second}


def test_deterministic_and_seed_dependent() -> None:
    groups = make_groups(30)
    a = list(sampler(groups, seed=3).batches_from(0))
    b = list(sampler(groups, seed=3).batches_from(0))
    c = list(sampler(groups, seed=4).batches_from(0))
    assert a == b and a != c


def test_resume_continues_the_same_sequence() -> None:
    groups = make_groups(30)
    full = list(sampler(groups).batches_from(0))
    stopped = sampler(groups)
    state = stopped.state_dict(17)
    assert all(isinstance(v, int) for v in state.values())
    resumed = sampler(groups)
    resumed.load_state_dict(state)
    assert list(resumed) == full[17:] and len(resumed) == len(full) - 17
    assert [stopped.batch_at(k) for k in (25, 3, 30)] == [full[25], full[3], full[30]]


def test_resume_state_from_other_data_names_fields() -> None:
    state = sampler(make_groups(30)).state_dict(5)
    with pytest.raises(ValueError, match="n_groups"):
        sampler(make_groups(31)).load_state_dict(state)


def test_without_negatives_every_slot_is_a_base_single() -> None:
    for s in (sampler(make_groups(20, negatives=0)), sampler(make_groups(20), negatives=False)):
        assert s.captions_per_epoch == 20
        for batch in s.batches_from(0, 10):
            assert all(slot.neg == -1 and slot.partner == -1 for slot in batch)


def test_groups_without_negatives_only_become_singles() -> None:
    s = sampler(make_groups(30, without_negatives=tuple(range(0, 30, 3))), name="constant", p_max=0.5)
    for batch in s.batches_from(0, 20):
        assert len(batch) == 8
        assert all(base.group % 3 for base, _ in pairs(batch))
        assert all(slot.neg == -1 for slot in batch if slot.group % 3 == 0)


@pytest.mark.parametrize("name", ["constant", "linear"])
@pytest.mark.parametrize("every", [0, 4, 2, 1], ids=["0%", "25%", "50%", "100%"])
def test_groups_without_negatives_are_not_starved(name: str, every: int) -> None:
    """Every `every`-th group lacks negatives; each caption is still seen once per epoch (±1)."""
    lacking = tuple(range(0, 200, every)) if every else ()
    groups = make_groups(200, without_negatives=lacking)
    captions = 200 + (200 - len(lacking))
    total = -(-10 * captions // 16)  # 10 epochs (rounded up to a whole batch)
    s = sampler(groups, batch_size=16, name=name, p_max=0.5, total=total)
    assert s.captions_per_epoch == captions
    counts = Counter((slot.group, slot.neg) for batch in s.batches_from(0) for slot in batch)
    everything = {(g, -1) for g in range(200)} | {(g, 0) for g in range(200) if g not in lacking}
    assert set(counts) == everything
    assert all(9 <= c <= 11 for c in counts.values()), sorted(Counter(counts.values()).items())
    first = Counter((slot.group, slot.neg) for batch in s.batches_from(0, captions // 16) for slot in batch)
    assert max(first.values()) <= 2  # also within the first epoch: nobody is seen twice before others once


def test_rank_blocks_reassemble_the_global_batch() -> None:
    groups = make_groups(30)
    whole = sampler(groups)
    ranks = [list(sampler(groups, rank=r, world_size=2).batches_from(0)) for r in range(2)]
    for step, (a, b) in enumerate(zip(*ranks, strict=True)):
        glued = a + [slot._replace(partner=slot.partner + 4) if slot.partner >= 0 else slot for slot in b]
        assert glued == whole.batch_at(step)
        for block in (a, b):
            assert all(0 <= slot.partner < 4 for slot in block if slot.partner >= 0)
    assert rank_slice(whole.batch_at(0), 0, 1) == whole.batch_at(0)


def test_bad_sizes_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="train.batch_size=8"):
        sampler(make_groups(7))
    with pytest.raises(ValueError, match="even"):
        sampler(make_groups(30), batch_size=6, world_size=2)
    with pytest.raises(ValueError, match="divisible"):
        sampler(make_groups(30), batch_size=9, world_size=2)
    with pytest.raises(KeyError, match="unknown hard-negative schedule"):
        sampler(make_groups(30), name="zigzag")
