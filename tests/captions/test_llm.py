"""The shared LLM driver: prompts, JSON parsing, validation, retries, re-draws and drops (scripted replies)."""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest
from pydantic import ValidationError

from synthmphn.captions import create_caption_backend
from synthmphn.captions.concepts import builtin_bank
from synthmphn.captions.grammar import GrammarBackend
from synthmphn.captions.llm import (
    LINE_PREFIX,
    MAX_CHOICES,
    MAX_REDRAWS,
    base_messages,
    check_base,
    negative_messages,
    parse_caption,
    plain_prompt,
    programmatic_negative,
    value_choices,
)
from synthmphn.captions.sampling import make_edit, plan_group
from synthmphn.config import CaptionsConfig
from synthmphn.data.records import CaptionSpec

from .helpers import LLM_BACKENDS, assert_valid_draft, install_complete, make_config, oracle_reply

over_llm_backends = pytest.mark.parametrize("name", LLM_BACKENDS)


def reply(caption: str) -> str:
    return json.dumps({"caption": caption})


@pytest.mark.parametrize(
    ("text", "caption"),
    [
        ('{"caption": "a red circle"}', "a red circle"),
        ('Sure! Here it is:\n```json\n{"caption": "a  red\\ncircle"}\n```', "a red circle"),
        ('{"note": 1} then {"caption": "two squares"} and {"caption": "late"}', "two squares"),
        ('{"result": {"caption": "nested"}}', "nested"),
        ('{"caption": "unterminated', None),
        ('{"caption": 3}', None),
        ("no json at all", None),
        ("", None),
    ],
)
def test_parse_caption(text, caption):
    assert parse_caption(text) == caption


def test_prompts_state_the_spec_and_the_edit():
    spec = CaptionSpec(
        subject="digit 3", category="digit", attributes={"colour": "red", "position": "top left"}
    )
    messages = base_messages(spec, builtin_bank())
    user = messages[-1]["content"]
    assert "digit 3" in user and "red" in user and "top left" in user
    examples = [m["content"] for m in messages if m["role"] == "assistant"]
    assert len(examples) == 2 and all(e.startswith("Caption: ") for e in examples)  # few-shot, line format
    plan = GrammarBackend(CaptionsConfig(negative_kinds=["colour"])).plan(0, "g0000000")
    edit = plan.edits[0]
    user = negative_messages("a red circle", edit)[-1]["content"]
    assert f'"{edit.old}" to "{edit.value}"' in user and "a red circle" in user
    assert plain_prompt(base_messages(spec, builtin_bank())).endswith(LINE_PREFIX)


def test_check_base_reasons():
    bank = builtin_bank()
    spec = CaptionSpec(subject="cross", category="shape", attributes={"count": "two", "colour": "blue"})
    assert check_base("Two blue crosses.", spec, bank) is None
    assert check_base("two blue circles", spec, bank) == "missing_subject"
    assert check_base("two crosses", spec, bank) == "missing_attribute"
    assert check_base("  ", spec, bank) == "empty"


@over_llm_backends
def test_oracle_replies_give_valid_drafts_with_the_grammar_specs(name, build_backend):
    backend = build_backend(name, negatives_per_caption=2)
    result = backend.generate(20, seed=5, prefix="x")
    assert [d.id for d in result.drafts] == [f"x{i:07d}" for i in range(20)]
    assert not result.rejections
    grammar = GrammarBackend(backend.config).generate(20, seed=5, prefix="x")
    for draft, reference in zip(result.drafts, grammar.drafts, strict=True):
        assert draft.spec == reference.spec
        assert [n.spec for n in draft.negatives] == [n.spec for n in reference.negatives]
        assert_valid_draft(draft, backend.bank)


@over_llm_backends
def test_failed_replies_are_retried_and_counted(name, build_backend):
    backend = build_backend(name, negatives_per_caption=1, max_retries=3, negative_source="llm")

    def scripted(request):
        good = json.loads(oracle_reply(backend, request))["caption"]
        if request.task == "base":
            return ["I cannot do JSON", reply(""), reply("a picture of something"), reply(good)][
                request.attempt
            ]
        broken = f"{good} and also a {good}"  # a second, separate edit
        return [reply(request.caption), reply(broken), reply(good)][request.attempt]

    requests = install_complete(backend, scripted)
    result = backend.generate(4, seed=0)
    assert len(result.drafts) == 4 and all(len(d.negatives) == 1 for d in result.drafts)
    assert result.rejections == Counter(
        {"invalid_json": 4, "empty": 4, "missing_subject": 4, "identical": 4, "multiple_edits": 4}
    )
    assert len(requests) == 4 * 4 + 4 * 3
    seeds = [r.seed for r in requests]
    assert len(set(seeds)) == len(seeds)  # every retry uses a new seed


@over_llm_backends
def test_requests_are_deterministic(name, build_backend):
    first, second = build_backend(name), build_backend(name)
    seen_first = install_complete(first, lambda r: oracle_reply(first, r))
    seen_second = install_complete(second, lambda r: oracle_reply(second, r))
    assert first.generate(5, 1).drafts == second.generate(5, 1).drafts
    assert [(r.seed, r.messages) for r in seen_first] == [(r.seed, r.messages) for r in seen_second]


@over_llm_backends
def test_group_is_redrawn_after_max_retries(name, build_backend):
    backend = build_backend(name, negatives_per_caption=1, max_retries=1)
    original = backend.plan(0, "g0000001").spec

    def scripted(request):
        if request.task == "base" and request.group_id == "g0000001" and request.spec == original:
            return "garbage"
        return oracle_reply(backend, request)

    install_complete(backend, scripted)
    result = backend.generate(3, seed=0)
    assert result.rejections == Counter({"invalid_json": 2, "group_redrawn": 1})
    assert result.drafts[1].spec == backend.plan(0, "g0000001", draw=1).spec != original
    assert_valid_draft(result.drafts[1], backend.bank)


@over_llm_backends
def test_group_is_dropped_after_max_redraws(name, build_backend):
    backend = build_backend(name, negatives_per_caption=1, max_retries=2)

    def scripted(request):
        return "garbage" if request.group_id == "g0000000" else oracle_reply(backend, request)

    requests = install_complete(backend, scripted)
    result = backend.generate(2, seed=0)
    assert [d.id for d in result.drafts] == ["g0000001"]
    attempts = (MAX_REDRAWS + 1) * (2 + 1)
    assert result.rejections == Counter(
        {"invalid_json": attempts, "group_redrawn": MAX_REDRAWS, "group_dropped": 1}
    )
    assert sum(r.group_id == "g0000000" for r in requests) == attempts


@over_llm_backends
def test_negative_is_dropped_after_max_retries(name, build_backend):
    backend = build_backend(
        name, negatives_per_caption=2, max_retries=1, negative_kinds=["colour", "size"], negative_source="llm"
    )

    def scripted(request):
        if request.task == "negative" and request.edit.kind == "attribute:size":
            return reply(request.caption.replace(request.spec.attributes["colour"], "dull"))  # wrong value
        return oracle_reply(backend, request)

    install_complete(backend, scripted)
    result = backend.generate(3, seed=0)
    assert all([n.kind for n in d.negatives] == ["attribute:colour"] for d in result.drafts)
    assert result.rejections == Counter({"wrong_words_out": 6, "negative_dropped": 3})


@pytest.mark.parametrize(
    ("text", "caption"),
    [
        ("Caption: a blue circle on the green grass", "a blue circle on the green grass"),
        ('Sure.\n**Caption:** "a red cat"\nCaption: late', "a red cat"),
        ("caption:   two  squares ", "two squares"),
        ('Caption: {"caption": "x"}', "x"),  # a JSON answer on the line is read as JSON
        ("Caption:", None),
    ],
)
def test_parse_caption_reads_the_line_format(text, caption):
    assert parse_caption(text) == caption


def test_base_captions_must_be_captions_not_lists_or_talk_about_the_request():
    bank = builtin_bank()
    spec = CaptionSpec(subject="cross", category="shape", attributes={})
    kept_before = "This is a new JSON object that is composed of the following items: cross"
    assert check_base(kept_before, spec, bank) == "not_a_caption"
    assert check_base("subject: cross", spec, bank) == "not_a_caption"
    assert check_base("- cross\n- blue", spec, bank) == "not_a_caption"
    assert check_base(" ".join(["a cross"] * 25), spec, bank) == "not_a_caption"  # 50 words
    assert check_base("a cross on a plain background", spec, bank) is None
    repeated = "a cross at the bottom right of a photo of a cross"  # SmolLM2's way of adding an object
    assert check_base(repeated, spec, bank) == "repeated_subject"


@over_llm_backends
def test_negatives_are_made_by_editing_the_caption_without_asking_the_llm(name, build_backend):
    backend = build_backend(
        name, negatives_per_caption=2, negative_kinds=["colour", "size", "texture"], negative_source="edit"
    )

    def line_reply(request):  # a small model's answer: the line format, not JSON
        return "Caption: " + json.loads(oracle_reply(backend, request))["caption"]

    requests = install_complete(backend, line_reply)
    result = backend.generate(6, seed=3)
    assert len(result.drafts) == 6 and not result.rejections
    asked = [r for r in requests if r.task == "negative"]
    for draft in result.drafts:
        assert_valid_draft(draft, backend.bank)
    # only negatives whose old value the caption states more than once went to the LLM
    made = sum(len(d.negatives) for d in result.drafts)
    assert made == 12 and len(asked) < made // 2


@over_llm_backends
def test_the_negative_mode_is_the_config_key_negative_source(name, tmp_path):
    kinds = ["colour", "size", "texture"]
    modes = {}
    for mode in ("value", "edit", "llm"):
        config = make_config(
            name, tmp_path, negatives_per_caption=2, negative_kinds=kinds, negative_source=mode
        )
        backend = create_caption_backend(config)
        assert backend.negative_source == mode
        requests = install_complete(backend, lambda r, b=backend: oracle_reply(b, r))
        result = backend.generate(4, seed=3)
        assert len(result.drafts) == 4
        for draft in result.drafts:
            assert_valid_draft(draft, backend.bank)
        modes[mode] = Counter(r.task for r in requests)
    assert modes["value"]["value"] == 8  # the LLM picks every negative's new value
    assert modes["edit"]["value"] == 0 and modes["edit"]["negative"] < 4  # the plan's values, code edits
    assert modes["llm"]["value"] == 0 and modes["llm"]["negative"] == 8  # a free rewrite per negative
    assert make_config(name, tmp_path).negative_source == "value"
    with pytest.raises(ValidationError, match="negative_source"):
        make_config(name, tmp_path, negative_source="rewrite")


@over_llm_backends
def test_keeping_far_fewer_groups_than_asked_is_warned(name, build_backend, caplog):
    backend = build_backend(name, negatives_per_caption=0, max_retries=0)
    install_complete(backend, lambda r: "garbage" if r.group_id != "g0000000" else oracle_reply(backend, r))
    with caplog.at_level("WARNING", logger="synthmphn.captions.llm"):
        result = backend.generate(5, seed=0)
    assert len(result.drafts) == 1
    assert "kept 1 of 5 groups asked" in caplog.text and "invalid_json" in caplog.text


@over_llm_backends
def test_the_llm_picks_the_new_value_and_the_code_edits_the_caption(name, build_backend):
    backend = build_backend(name, negatives_per_caption=2, negative_kinds=["colour", "size", "subject"])
    assert backend.negative_source == "value"  # the backends' default

    def pick_another(request):  # not the plan's value: the drafts must follow the model's pick
        if request.task == "value":
            return f"Answer: {[c for c in request.choices if c != request.edit.value][-1]}"
        return oracle_reply(backend, request)

    requests = install_complete(backend, pick_another)
    result = backend.generate(6, seed=4)
    asked = {(r.group_id, r.edit.kind, r.edit.old): r for r in requests if r.task == "value"}
    assert len(result.drafts) == 6 and len(asked) == 12 and set(result.rejections) <= {"invalid_json"}
    for draft in result.drafts:
        assert_valid_draft(draft, backend.bank)
        for negative in draft.negatives:
            old = (
                draft.spec.subject
                if negative.kind == "subject"
                else draft.spec.attributes[negative.kind[10:]]
            )
            request = asked[(draft.id, negative.kind, old)]
            picked = [c for c in request.choices if c != request.edit.value][-1]
            assert negative.spec == make_edit(backend.bank, draft.spec, negative.kind, picked).spec
            assert request.edit.value in request.choices and old not in request.choices
            assert 2 <= len(request.choices) <= MAX_CHOICES


@over_llm_backends
def test_a_value_reply_naming_no_choice_is_retried_then_the_plan_value_stays(name, build_backend):
    backend = build_backend(name, negatives_per_caption=1, max_retries=2, negative_kinds=["colour"])
    install_complete(backend, lambda r: "Answer: mauve" if r.task == "value" else oracle_reply(backend, r))
    result = backend.generate(3, seed=2)
    assert result.rejections == Counter({"invalid_choice": 3 * (2 + 1)})
    for draft in result.drafts:
        (negative,) = draft.negatives
        assert negative.spec == backend.plan(2, draft.id).edits[0].spec


def test_edits_of_one_kind_get_disjoint_choices_holding_their_own_plan_value():
    bank = builtin_bank()
    plan = plan_group(bank, ["attribute:colour"], 2, random.Random(0))
    first, second = value_choices(bank, plan, random.Random(1))
    assert plan.edits[0].value in first and plan.edits[1].value in second
    assert not set(first) & set(second) and len(first) == MAX_CHOICES
    others = set(bank.attributes["colour"]) - {plan.spec.attributes["colour"]}
    assert set(first) | set(second) == others  # 9 values: 5 offered to the first, the 4 left to the second


def test_a_count_edit_between_one_and_many_changes_the_noun_too():
    bank = builtin_bank()
    spec = CaptionSpec(subject="circle", category="shape", attributes={"count": "one"})
    many = make_edit(bank, spec, "attribute:count", "three")
    assert programmatic_negative("One circle on the grass", many, bank, spec) == "three circles on the grass"
    assert (
        programmatic_negative("one big circle", many, bank, spec) is None
    )  # number and noun apart: ask the LLM
    back = make_edit(bank, many.spec, "attribute:count", "one")
    assert programmatic_negative("three circles here", back, bank, many.spec) == "one circle here"
