"""Held-out captions: exactly n asked of an LLM backend (top-ups only for captions seen in train)."""

from __future__ import annotations

from synthmphn.captions.grammar import GrammarBackend
from synthmphn.captions.unseen import SEEN_IN_TRAIN, generate_unseen, oversampled
from synthmphn.config import CaptionsConfig

from .helpers import install_complete, oracle_reply


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
