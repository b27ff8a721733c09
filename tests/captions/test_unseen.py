"""Unseen split captions: no held-out text is a train text, train bases are distinct, and an LLM backend is
asked for exactly n (top-ups only for the shortfall)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from synthmphn.build import captions as build_captions
from synthmphn.captions import create_caption_backend
from synthmphn.captions.base import CaptionResult
from synthmphn.captions.grammar import GrammarBackend
from synthmphn.captions.llm import LLMBackend
from synthmphn.captions.unseen import (
    SEEN_IN_TRAIN,
    TRAIN_DUPLICATE,
    draft_texts,
    generate_unseen,
    oversampled,
    train_texts,
)
from synthmphn.config import CaptionsConfig, RunConfig
from synthmphn.data.records import CaptionDraft, NegativeCaption

from .helpers import LLM_BACKENDS, install_complete, make_config, oracle_reply


def test_grammar_keeps_its_one_oversampled_draw():
    backend = GrammarBackend(CaptionsConfig())
    reference = backend.generate(oversampled(10), 5, prefix="h").drafts
    seen = {reference[0].caption, reference[3].caption}
    out = generate_unseen(backend, 10, 5, "h", seen, oversample=True)
    assert out.drafts == [d for d in reference if d.caption not in seen][:10]
    assert out.rejections[SEEN_IN_TRAIN] >= 2


def test_an_llm_backend_is_asked_for_n_then_only_the_shortfall(build_backend):
    backend = build_backend("transformers", negatives_per_caption=0)

    requests = install_complete(backend, lambda r: oracle_reply(backend, r))
    assert oversampled(4) == 13
    plain = generate_unseen(backend, 4, 1, "h", set(), oversample=False)
    assert len(plain.drafts) == 4 and len({r.group_id for r in requests}) == 4  # not 13
    requests.clear()
    seen = {plain.drafts[1].caption}
    again = generate_unseen(backend, 4, 1, "h", seen, oversample=False)
    ids = [d.id for d in again.drafts]
    assert len(ids) == 4 and ids[:3] == ["h0000000", "h0000002", "h0000003"] and ids[3].startswith("h1r")
    assert len({r.group_id for r in requests}) == 5 and again.rejections[SEEN_IN_TRAIN] == 1


# ----------------------------------------------------------------------------- issue #12: every text, distinct train


class ListBackend:
    """Returns the first n of fixed drafts in round 0 and nothing in later rounds (ids start with prefix)."""

    def __init__(self, drafts: list[CaptionDraft]) -> None:
        self.drafts = drafts

    def generate(self, n: int, seed: int, prefix: str = "g") -> CaptionResult:
        return CaptionResult([d for d in self.drafts if d.id.startswith(prefix) and "r" not in d.id[1:]][:n])


def draft(gid: str, caption: str, *negatives: str) -> CaptionDraft:
    return CaptionDraft(
        id=gid, caption=caption, negatives=[NegativeCaption(text=t, kind="subject") for t in negatives]
    )


def test_heldout_group_is_dropped_when_any_text_is_a_train_text() -> None:
    train = [draft("g0", "a cat", "a dog"), draft("g1", "a red car", "a blue car")]
    heldout = [
        draft("h0", "a dog", "a fox"),  # base = a train HN caption
        draft("h1", "a bee", "a red car"),  # HN = a train base caption
        draft("h2", "a bee", "an owl"),
        draft("h3", "a fox", "a blue car"),  # HN = a train HN caption
        draft("h4", "an ant", "a cow"),
        draft("h5", "an elk", "a yak"),
    ]
    assert train_texts(train) == {"a cat", "a dog", "a red car", "a blue car"}
    out = generate_unseen(ListBackend(heldout), 2, 0, "h", train_texts(train), oversample=True)
    assert [d.id for d in out.drafts] == ["h2", "h4"] and out.rejections[SEEN_IN_TRAIN] == 3


def test_train_keeps_the_first_of_each_base_caption() -> None:
    drafts = [draft("g0", "a cat"), draft("g1", "a dog", "a cat"), draft("g2", "a cat"), draft("g3", "a fox")]
    out = generate_unseen(ListBackend(drafts), 3, 0, "g", set(), oversample=True, distinct=True)
    assert [d.id for d in out.drafts] == ["g0", "g1", "g3"]  # only base captions count as duplicates
    assert out.rejections == Counter({TRAIN_DUPLICATE: 1})


def _generate(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> build_captions.Captions:
    """build's caption stage with backend `name` (LLM backends answer like the oracle: grammar phrasing)."""
    settings = {"n_groups": 300, "subjects": ["digit 1", "digit 2", "circle"], "attribute_rate": 0.3}
    backend = create_caption_backend(make_config(name, tmp_path, **settings))
    if isinstance(backend, LLMBackend):
        install_complete(backend, lambda r: oracle_reply(backend, r))
    monkeypatch.setattr(build_captions, "create_caption_backend", lambda config: backend)
    cfg = RunConfig.model_validate(
        {"captions": settings, "splits": {"heldout_groups": 60, "heldout_style_groups": 60}}
    )
    return build_captions.generate_captions(cfg)


@pytest.mark.parametrize("name", ["grammar", *LLM_BACKENDS])
def test_no_heldout_text_is_a_train_text_and_train_bases_are_distinct(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    captions = _generate(name, tmp_path, monkeypatch)
    train = captions.drafts["train"]
    seen = train_texts(train)
    assert len(train) == 300 and len({d.caption for d in train}) == 300
    for split in ("heldout", "heldout_style"):
        assert len(captions.drafts[split]) == 60
        assert not {t for d in captions.drafts[split] for t in draft_texts(d)} & seen
    # A small concept bank makes clashes common, so the filter had work to do:
    assert captions.rejections[TRAIN_DUPLICATE] > 0
    assert captions.rejections["heldout: caption also in train"] > 0
