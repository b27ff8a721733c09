"""Decoder constraints (captions/constrained.py) on hand-made token ids, and on a real (random) model."""

from __future__ import annotations

import pytest
import torch

from synthmphn.captions.constrained import CaptionRule, ChoiceRule, RowRules, banned_caption_tokens

WORDS = {1: "a", 2: "red", 3: "cat", 4: "cats", 5: "on", 6: ":", 7: "{", 8: "grass"}  # 0 = eos


def decode(ids: list[int]) -> str:
    return " ".join(WORDS.get(i, "") for i in ids)


def test_a_choice_rule_allows_only_the_choices_then_the_end():
    rule = ChoiceRule([[2, 3], [2, 8], [4]], eos_ids=[0])
    assert sorted(rule.allowed([])) == [2, 4]
    assert sorted(rule.allowed([2])) == [3, 8]
    assert rule.allowed([2, 3]) == [0] and rule.allowed([4]) == [0]
    assert rule.allowed([4, 0]) is None  # the reply has ended: nothing left to constrain
    assert sorted(ChoiceRule([[2], [2, 3]], [0]).allowed([2])) == [0, 3]  # a choice inside a longer one


def test_a_caption_rule_bans_marks_always_and_the_end_until_the_spec_is_said():
    rule = CaptionRule([["cat", "cats"], ["red"]], banned=[6, 7], eos_ids=[0], decode=decode)
    assert rule.banned_now([]) == [6, 7, 0]
    assert rule.banned_now([1, 2]) == [6, 7, 0]  # "a red": no subject yet
    assert rule.banned_now([1, 2, 3]) == [6, 7]  # "a red cat": may end
    assert rule.banned_now([4, 5, 2, 8]) == [6, 7]  # the plural names the subject too
    assert rule.banned_now([1, 3, 0]) == []  # ended


def test_banned_caption_tokens_are_those_holding_marks_or_line_breaks():
    texts = ["a", " red", ":", '{"', "cat\n", "]", "grass"]
    assert banned_caption_tokens(lambda i: texts[i], len(texts)) == [2, 3, 4, 5]


def test_row_rules_mask_each_row_after_the_prompt():
    scores = torch.zeros(2, 9)
    input_ids = torch.tensor([[9, 9, 2], [9, 9, 1]])  # a 2-token prompt, one generated token each
    rules = RowRules([ChoiceRule([[2, 3], [2, 8]], [0]), CaptionRule([["cat"]], [6], [0], decode)], 2)
    out = rules(input_ids, scores)
    assert torch.isfinite(out[0]).nonzero().flatten().tolist() == [3, 8]
    assert torch.isinf(out[1]).nonzero().flatten().tolist() == [0, 6]


@pytest.fixture(scope="module")
def tiny_backend(tmp_path_factory):
    from synthmphn.captions.transformers_lm import TransformersBackend
    from synthmphn.config import CaptionsConfig

    from .test_transformers_lm import CHAT_TEMPLATE, build_tiny_model

    folder = build_tiny_model(tmp_path_factory.mktemp("tiny-constrained"), CHAT_TEMPLATE)
    config = CaptionsConfig(backend="transformers", model=str(folder), max_new_tokens=12, temperature=1.0)
    return TransformersBackend(config)


def test_random_weights_still_answer_a_value_request_with_a_choice(tiny_backend):
    from synthmphn.captions.llm import LLMRequest
    from synthmphn.captions.prompts import parse_choice, value_messages
    from synthmphn.captions.sampling import make_edit
    from synthmphn.data.records import CaptionSpec

    torch.set_num_threads(1)
    spec = CaptionSpec(subject="circle", category="shape", attributes={"colour": "red"})
    edit = make_edit(tiny_backend.bank, spec, "attribute:colour", "blue")
    choices = ["blue", "small", "top left"]
    requests = [
        LLMRequest(value_messages("a red circle", edit, choices), seed, "g", "value", spec, choices=choices)
        for seed in range(8)
    ]
    replies = tiny_backend.complete(requests)
    assert all(parse_choice(reply, choices) in choices for reply in replies), replies


def test_random_weights_write_one_line_captions_without_marks(tiny_backend):
    from synthmphn.captions.llm import LLMRequest
    from synthmphn.captions.prompts import base_messages, parse_caption
    from synthmphn.data.records import CaptionSpec

    spec = CaptionSpec(subject="circle", category="shape", attributes={"colour": "red"})
    requests = [
        LLMRequest(base_messages(spec, tiny_backend.bank), seed, "g", "base", spec) for seed in range(4)
    ]
    for reply in tiny_backend.complete(requests):
        caption = parse_caption(reply)
        assert reply.startswith("Caption:") and "\n" not in reply and caption is not None
        assert not any(mark in caption for mark in ":{}[]"), reply
