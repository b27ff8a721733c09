"""The grammar backend: determinism, one-slot negatives, count grammar, filters and kinds."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from synthmphn.captions.grammar import GrammarBackend, render_caption, sample_template
from synthmphn.captions.llm import mentions
from synthmphn.captions.sampling import _choose_kinds
from synthmphn.config import CaptionsConfig
from synthmphn.data.records import CaptionSpec

from .helpers import assert_valid_draft


def generate(n: int = 200, seed: int = 0, **overrides):
    backend = GrammarBackend(CaptionsConfig(**overrides))
    return backend, backend.generate(n, seed)


def dumps(result) -> list[dict]:
    return [d.model_dump() for d in result.drafts]


def test_same_seed_same_drafts_and_different_seed_differs():
    _, first = generate(50, seed=3, negatives_per_caption=2)
    _, again = generate(50, seed=3, negatives_per_caption=2)
    _, other = generate(50, seed=4, negatives_per_caption=2)
    assert dumps(first) == dumps(again)
    assert [d.caption for d in first.drafts] != [d.caption for d in other.drafts]


def test_ids_use_prefix_and_index():
    result = GrammarBackend(CaptionsConfig()).generate(3, seed=0, prefix="h")
    assert [d.id for d in result.drafts] == ["h0000000", "h0000001", "h0000002"]


def test_a_group_does_not_depend_on_n():
    _, small = generate(5, seed=1)
    _, large = generate(20, seed=1)
    assert dumps(small) == dumps(large)[:5]


def test_every_negative_changes_exactly_one_slot():
    backend, result = generate(600, seed=0, negatives_per_caption=3)
    assert not result.rejections
    kinds = Counter()
    for draft in result.drafts:
        assert len(draft.negatives) == 3
        assert_valid_draft(draft, backend.bank)
        kinds.update(n.kind for n in draft.negatives)
    assert set(kinds) == {"subject", *(f"attribute:{a}" for a in backend.bank.attributes)}


def test_count_keeps_noun_number_right():
    backend, result = generate(600, seed=2, negatives_per_caption=2)
    checked = 0
    for draft in result.drafts:
        for text, spec in [(draft.caption, draft.spec), *((n.text, n.spec) for n in draft.negatives)]:
            count = spec.attributes.get("count")
            if count is None:
                continue
            subject = backend.bank.subject(spec.subject)
            noun = subject.name if count == "one" else subject.plural
            assert mentions(text, f"{count} {noun}"), text
            checked += 1
    assert checked > 100


def test_digits_appear_verbatim():
    _, result = generate(100, categories=["digit"], negatives_per_caption=2)
    for draft in result.drafts:
        assert draft.spec.subject in draft.caption
        for negative in draft.negatives:
            assert negative.spec.subject in negative.text


def test_phrasing_varies():
    _, result = generate(300)
    openings = {" ".join(d.caption.split()[:2]) for d in result.drafts}
    assert len(openings) > 20
    assert any(", " in d.caption for d in result.drafts)


def test_colour_never_equals_background():
    _, result = generate(500, negatives_per_caption=3)
    for draft in result.drafts:
        for spec in [draft.spec, *(n.spec for n in draft.negatives)]:
            attrs = spec.attributes
            assert "colour" not in attrs or attrs["colour"] != attrs.get("background")


def test_negative_kinds_restrict_edits():
    backend, result = generate(200, negative_kinds=["colour", "attribute:size"], negatives_per_caption=2)
    for draft in result.drafts:
        assert {n.kind for n in draft.negatives} == {"attribute:colour", "attribute:size"}
        assert_valid_draft(draft, backend.bank)


def test_subject_swaps_prefer_same_category():
    _, result = generate(300, negative_kinds=["subject"], negatives_per_caption=1)
    same = sum(d.negatives[0].spec.category == d.spec.category for d in result.drafts)
    assert same / len(result.drafts) > 0.7


def test_kind_weights_tilt_which_slot_the_first_negative_edits():
    editable = ["subject", "attribute:colour", "attribute:size"]
    rng = random.Random(0)
    firsts = Counter(_choose_kinds(editable, 3, rng, {"subject": 2.0})[0] for _ in range(8000))
    # P(first = k) = w_k / sum(w) = 2/4, 1/4, 1/4 (standard error of a share ~0.006 here)
    assert firsts["subject"] / 8000 == pytest.approx(0.5, abs=0.025)
    assert firsts["attribute:colour"] / 8000 == pytest.approx(0.25, abs=0.025)
    assert sorted(_choose_kinds(editable, 3, rng, {"subject": 2.0})) == sorted(editable)  # still spread


def test_unit_weights_keep_the_unweighted_draw():
    """Datasets built before the key existed keep their bytes: weights of 1 take the old draw."""
    _, plain = generate(50, negatives_per_caption=2)
    _, unit = generate(50, negatives_per_caption=2, negative_kind_weights={"subject": 1.0})
    assert [d.model_dump() for d in unit.drafts] == [d.model_dump() for d in plain.drafts]


def test_subject_weight_six_makes_about_half_the_negatives_swap_the_subject():
    _, result = generate(1500, negative_kind_weights={"subject": 6.0})
    share = sum(d.negatives[0].kind == "subject" for d in result.drafts) / len(result.drafts)
    assert 0.42 < share < 0.58  # 6 / (6 + editable attributes), 5-6 of them per subject
    _, even = generate(1500)
    assert sum(d.negatives[0].kind == "subject" for d in even.drafts) / 1500 < 0.2


def test_bad_kind_weights_fail_naming_the_key():
    with pytest.raises(ValueError, match="negative_kind_weights: 'smell' is not in captions.negative_kinds"):
        GrammarBackend(CaptionsConfig(negative_kind_weights={"smell": 2.0}))
    with pytest.raises(ValueError, match="weight of 'subject' must be > 0"):
        GrammarBackend(CaptionsConfig(negative_kind_weights={"subject": 0.0}))


def test_unknown_negative_kind_fails():
    with pytest.raises(ValueError, match="captions.negative_kinds"):
        GrammarBackend(CaptionsConfig(negative_kinds=["smell"]))


def test_no_negatives_when_zero():
    _, result = generate(10, negatives_per_caption=0)
    assert all(not d.negatives for d in result.drafts)


def test_filters_and_exhausted_edits_are_counted():
    config = {"subjects": ["circle", "square"], "negative_kinds": ["subject"], "negatives_per_caption": 2}
    backend, result = generate(30, **config)
    for draft in result.drafts:
        assert draft.spec.subject in {"circle", "square"}
        assert [n.spec.subject for n in draft.negatives] == [
            {"circle": "square", "square": "circle"}[draft.spec.subject]
        ]
    assert result.rejections == Counter({"no_edit_left": 30})


def test_render_states_exactly_the_spec():
    backend = GrammarBackend(CaptionsConfig())
    spec = CaptionSpec(subject="circle", category="shape", attributes={"colour": "red", "count": "two"})

    for seed in range(20):
        text = render_caption(spec, sample_template(random.Random(seed)), backend.bank)
        assert mentions(text, "two circles") and mentions(text, "red")
        assert not any(w in text for w in ("small", "large", "striped", "background"))


def test_attribute_rate_zero_states_only_what_negatives_edit():
    _, bare = generate(50, attribute_rate=0.0, negatives_per_caption=0)
    assert all(d.spec.attributes == {} for d in bare.drafts)
    _, edited = generate(50, attribute_rate=0.0, negative_kinds=["colour"], negatives_per_caption=1)
    assert all(set(d.spec.attributes) == {"colour"} for d in edited.drafts)


def test_attribute_rate_scales_the_number_of_stated_attributes():
    def mean_stated(rate: float) -> float:
        _, result = generate(400, attribute_rate=rate, negatives_per_caption=0)
        return sum(len(d.spec.attributes) for d in result.drafts) / len(result.drafts)

    # Expected stated count at rate 1 = sum of STATE_PROBABILITY over a subject's attributes (~3); half the
    # rate must roughly halve it (every probability is below 1, so nothing saturates).
    full, half = mean_stated(1.0), mean_stated(0.5)
    assert 0.4 < half / full < 0.6
