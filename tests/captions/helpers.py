"""Helpers for the caption tests: backend configs, an "oracle" LLM that always answers well, and the
structural checks every backend's drafts must pass."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

from synthmphn.captions import CAPTION_BACKENDS
from synthmphn.captions.concepts import ConceptBank
from synthmphn.captions.grammar import render_caption, sample_template
from synthmphn.captions.llm import LLMBackend, LLMRequest, check_base, mentions
from synthmphn.captions.validate import edit_blocks, validate_negative
from synthmphn.config import CaptionsConfig
from synthmphn.data.records import CaptionDraft
from synthmphn.seeding import derive_seed

LLM_BACKENDS = [name for name in CAPTION_BACKENDS.names() if name != "grammar"]


def make_config(name: str, tmp_path: Path, **overrides) -> CaptionsConfig:
    """A CaptionsConfig for backend `name` that constructs offline (LLM backends get a dummy model/server)."""
    extra: dict = {}
    if name == "transformers":
        extra = {"model": str(tmp_path)}
    elif name == "openai":
        extra = {"model": "dummy", "base_url": "http://127.0.0.1:9/v1"}
    return CaptionsConfig(backend=name, **{**extra, **overrides})


def oracle_reply(backend: LLMBackend, request: LLMRequest) -> str:
    """What a perfect LLM would answer: the grammar phrasing of the request's spec, as JSON (a value request:
    the plan's value, so the drafts' specs equal the grammar backend's).

    The template depends only on the group id, so a negative is phrased like its base caption.
    """
    if request.task == "value":
        assert request.edit is not None
        return f"Answer: {request.edit.value}"  # the plan's own value (always among the choices)
    template = sample_template(random.Random(derive_seed("oracle", request.group_id)))
    return json.dumps({"caption": render_caption(request.spec, template, backend.bank)})


def install_complete(backend: LLMBackend, reply: Callable[[LLMRequest], str]) -> list[LLMRequest]:
    """Replaces `backend.complete` with `reply` per request; returns the list that records every request."""
    seen: list[LLMRequest] = []

    def complete(requests: list[LLMRequest]) -> list[str]:
        seen.extend(requests)
        return [reply(r) for r in requests]

    backend.complete = complete  # type: ignore[method-assign]
    return seen


def spec_diff(base, other) -> list[str]:
    """Kinds of the slots in which two specs differ ('subject' or 'attribute:<name>')."""
    kinds = ["subject"] if (base.subject, base.category) != (other.subject, other.category) else []
    names = sorted(set(base.attributes) | set(other.attributes))
    return kinds + [f"attribute:{n}" for n in names if base.attributes.get(n) != other.attributes.get(n)]


def assert_valid_draft(draft: CaptionDraft, bank: ConceptBank) -> None:
    """The caption states its spec; each negative changes exactly one slot, named by its kind, in one
    contiguous edit that states the new value; negatives are distinct."""
    assert check_base(draft.caption, draft.spec, bank) is None, draft.caption
    texts = [draft.caption]
    for negative in draft.negatives:
        assert spec_diff(draft.spec, negative.spec) == [negative.kind], (draft.spec, negative.spec)
        assert validate_negative(draft.caption, negative.text, texts[1:]) is None, (
            draft.caption,
            negative.text,
        )
        texts.append(negative.text)
        if negative.kind == "subject":
            subject = bank.subject(negative.spec.subject)
            assert mentions(negative.text, subject.name) or mentions(negative.text, subject.plural)
        else:
            value = negative.spec.attributes[negative.kind.removeprefix("attribute:")]
            assert mentions(negative.text, value), (negative.text, value)
        assert len(edit_blocks(draft.caption, negative.text)) == 1
