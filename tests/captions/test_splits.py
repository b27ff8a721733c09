"""Split selection: held-out groups share no text with train; train has no duplicate base captions."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from synthmphn.build import captions as build
from synthmphn.captions import create_caption_backend
from synthmphn.captions.llm import LLMBackend
from synthmphn.captions.splits import (
    TRAIN_DUPLICATE,
    distinct_train_drafts,
    draft_texts,
    oversampled,
    split_drafts,
    train_texts,
    unseen_drafts,
)
from synthmphn.config import RunConfig
from synthmphn.data.records import CaptionDraft, NegativeCaption

from .helpers import LLM_BACKENDS, install_complete, make_config, oracle_reply


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
    kept, dropped = unseen_drafts("heldout", heldout, train, n=2)
    assert [d.id for d in kept] == ["h2", "h4"]
    assert dropped == Counter({"heldout: caption also in train": 3})  # h5 is never reached: n = 2 kept
    assert train_texts(train) == {"a cat", "a dog", "a red car", "a blue car"}


def test_train_keeps_the_first_of_each_base_caption() -> None:
    drafts = [draft("g0", "a cat"), draft("g1", "a dog"), draft("g2", "a cat"), draft("g3", "a fox")]
    kept, dropped = distinct_train_drafts(drafts, n=3)
    assert [d.id for d in kept] == ["g0", "g1", "g3"] and dropped == Counter({TRAIN_DUPLICATE: 1})
    assert split_drafts("train", drafts, [], 3) == (kept, dropped)
    assert oversampled(200) == 258


def _generate(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **captions: object
) -> build.Captions:
    """build's caption stage with backend `name` (LLM backends answer like the oracle: grammar phrasing)."""
    settings = {
        "n_groups": 300,
        "subjects": ["digit 1", "digit 2", "circle"],
        "attribute_rate": 0.3,
        **captions,
    }
    backend = create_caption_backend(make_config(name, tmp_path, **settings))
    if isinstance(backend, LLMBackend):
        install_complete(backend, lambda r: oracle_reply(backend, r))
    monkeypatch.setattr(build, "create_caption_backend", lambda config: backend)
    cfg = RunConfig.model_validate(
        {"captions": settings, "splits": {"heldout_groups": 60, "heldout_style_groups": 60}}
    )
    return build.generate_captions(cfg)


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
