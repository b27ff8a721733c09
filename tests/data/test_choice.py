"""Which m images of a caption a step shows (data/choice.py): the round robin over generators, the gate's
down-weighting, and the batch form agreeing with the one-caption form."""

from __future__ import annotations

import numpy as np
import pytest

from synthmphn.data.choice import ImageTable, _ranks_within, caption_keys
from synthmphn.data.records import Group, ImageRecord, NegativeCaption
from synthmphn.data.sampler import CaptionSlot


def records(generators: str, prefix: str = "base") -> list[ImageRecord]:
    return [ImageRecord(key=f"{prefix}.{k}.png", generator=g, seed=k) for k, g in enumerate(generators)]


def choose_images(records: list[ImageRecord], m: int, key: int) -> list[ImageRecord]:
    """m of one caption's images drawn with caption key `key` (`ImageTable.choose` on a one-caption table)."""
    table = ImageTable.of_records([records])
    chosen = table.choose(np.zeros(1, dtype=np.int64), np.array([key], dtype=np.uint64), m)
    return [records[int(i)] for i in chosen[0]]


def test_choose_images_takes_distinct_generators_first() -> None:
    recs = records("aabbc")
    for key in range(20):
        assert len({r.generator for r in choose_images(recs, 3, key)}) == 3
        chosen = choose_images(recs, 5, key)
        assert sorted(r.key for r in chosen) == sorted(r.key for r in recs)
        # depth 0 (one image of each generator), then depth 1 (the second a and b), each in one order
        assert {r.generator for r in chosen[:3]} == {"a", "b", "c"}
        assert {r.generator for r in chosen[3:]} == {"a", "b"}
    assert choose_images(recs, 2, 7) == choose_images(recs, 2, 7)
    assert len({tuple(r.key for r in choose_images(recs, 2, s)) for s in range(20)}) > 1
    with pytest.raises(ValueError, match="6 images of a caption that has 5"):
        choose_images(recs, 6, 0)


def test_generator_order_and_each_generators_images_are_uniform() -> None:
    recs = records("aabbc")
    draws = 3000
    firsts = [choose_images(recs, 1, key)[0] for key in range(draws)]
    for generator in "abc":  # every generator leads a third of the time
        assert abs(sum(r.generator == generator for r in firsts) / draws - 1 / 3) < 0.03
    a_first = [r.key for r in firsts if r.generator == "a"]
    assert abs(a_first.count("base.0.png") / len(a_first) - 0.5) < 0.05  # either a image leads a's column


def test_choose_images_draws_a_down_weighted_image_about_weight_times_as_often() -> None:
    """The gate's `downweight`: an image of weight w is among the m chosen ~w times as often as a peer."""
    plain = records("abc")
    failed = plain[0].model_copy(update={"weight": 0.25})
    weighted = [failed, *plain[1:]]
    draws = 4000
    hits = sum(failed.key in {r.key for r in choose_images(weighted, 1, s)} for s in range(draws))
    peer = sum(plain[1].key in {r.key for r in choose_images(weighted, 1, s)} for s in range(draws))
    # P(failed chosen) = 0.25 * 1/3; P(peer) = 0.25 * 1/3 + 0.75 * 1/2 (failed deferred: 2 eligible)
    assert abs(hits / draws - 0.25 / 3) < 0.02
    assert abs(peer / draws - (0.25 / 3 + 0.75 / 2)) < 0.03
    # every slot still gets m images, and weight 0 only defers: it comes last, and a caption of failures
    # still fills its slot
    zero_first = [plain[0].model_copy(update={"weight": 0.0}), *plain[1:]]
    assert all(choose_images(zero_first, 3, s)[-1].key == plain[0].key for s in range(50))
    zero = [r.model_copy(update={"weight": 0.0}) for r in plain]
    assert len(choose_images(zero, 2, 3)) == 2


def test_choose_images_on_unweighted_records_is_unchanged_by_the_weight_rule() -> None:
    """weight None and weight 1 are the same: the same key picks the same images."""
    recs = records("aabbc")
    ones = [r.model_copy(update={"weight": 1.0}) for r in recs]
    for key in range(20):
        assert [r.key for r in choose_images(recs, 3, key)] == [r.key for r in choose_images(ones, 3, key)]


def groups_with_negatives() -> list[Group]:
    groups = [
        Group(
            id=f"g{g}",
            caption="c",
            images=records("abcab"[: 3 + g % 3]),
            negatives=[NegativeCaption(text="n", kind="subject", images=records("ccab", "neg0"))]
            if g % 2
            else [],
        )
        for g in range(7)
    ]
    groups[3].images[1] = groups[3].images[1].model_copy(update={"weight": 0.5})
    return groups


def test_a_batch_chooses_what_each_caption_alone_chooses() -> None:
    """The loaders choose a whole batch at once; each caption's choice is what it alone would get."""
    groups = groups_with_negatives()
    table = ImageTable.of_groups(groups)
    assert table.captions[:4] == [(0, -1), (1, -1), (1, 0), (2, -1)]
    slots = [
        CaptionSlot(group=g, neg=neg, step=s)
        for s in range(5)
        for g in range(7)
        for neg in (-1, 0)
        if neg < g % 2
    ]
    choice = table.choose_slots(slots, 0, 2)
    assert [table.captions[c] for c in choice.captions] == [(s.group, s.neg) for s in slots]
    keys = caption_keys(0, choice.ids)
    for slot, row, key, caption in zip(slots, choice.entries, keys, choice.captions, strict=True):
        recs = groups[slot.group].images if slot.neg == -1 else groups[slot.group].negatives[slot.neg].images
        alone = [recs.index(r) for r in choose_images(recs, 2, int(key))]
        assert (row - table.start[caption]).tolist() == alone


def test_a_negative_a_group_does_not_have_is_an_error() -> None:
    table = ImageTable.of_groups(groups_with_negatives())
    with pytest.raises(IndexError, match="group 2 has 0 negative"):
        table.choose_slots([CaptionSlot(group=1, neg=0), CaptionSlot(group=2, neg=0)], 0, 2)


def test_ranks_within_counts_from_zero_in_each_label_set() -> None:
    values = np.array([0.5, 0.1, 0.9, 0.3, 0.2])
    owner = np.array([0, 0, 0, 1, 1])
    part = np.array([0, 1, 0, 0, 0])
    assert _ranks_within(values, owner, part).tolist() == [0, 0, 1, 1, 0]
