"""Held-out captions that training never saw, without paying an LLM for captions that are thrown away.

A held-out split keeps only captions absent from train. The grammar backend is free, so it still draws
n + n//4 + 8 groups at once and keeps the first n unseen ones (the datasets it built stay byte-identical).
An LLM backend is asked for exactly n groups (4 held-out groups cost 4 requests' worth, not 13), and only
the shortfall, if some were seen in train, is asked again in further rounds with fresh ids
(`{prefix}{round}r{index:07d}`), at most `MAX_ROUNDS` times.
"""

from __future__ import annotations

from collections import Counter

from synthmphn.captions.base import CaptionBackend, CaptionResult
from synthmphn.data.records import CaptionDraft
from synthmphn.seeding import derive_seed

SEEN_IN_TRAIN = "caption also in train"
MAX_ROUNDS = 4


def oversampled(n: int) -> int:
    """How many groups a free backend draws for n unseen ones: n + n // 4 + 8."""
    return n + n // 4 + 8


def generate_unseen(
    backend: CaptionBackend, n: int, seed: int, prefix: str, seen: set[str], oversample: bool
) -> CaptionResult:
    """Up to `n` drafts whose captions are not in `seen` (train's); rejections count drops by reason.

    `oversample` (free backends) draws `oversampled(n)` at once first; otherwise exactly the missing count
    is asked each round.
    """
    drafts: list[CaptionDraft] = []
    rejections: Counter[str] = Counter()
    for round_ in range(MAX_ROUNDS + 1):
        want = n - len(drafts)
        if want <= 0:
            break
        ask = oversampled(n) if oversample and round_ == 0 else want
        round_seed = seed if round_ == 0 else derive_seed(seed, "unseen", round_)
        out = backend.generate(ask, round_seed, prefix=prefix if round_ == 0 else f"{prefix}{round_}r")
        rejections.update(out.rejections)
        for draft in out.drafts:
            if draft.caption in seen:
                rejections[SEEN_IN_TRAIN] += 1
            elif len(drafts) < n:
                drafts.append(draft)
    return CaptionResult(drafts=drafts, rejections=rejections)
