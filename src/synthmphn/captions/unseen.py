"""Split captions that are really unseen, without paying an LLM for captions that are thrown away.

A text is *seen in train* when it is any train caption: a base caption or a hard negative's caption (both
are trained with images). Rules (issue #12):

- held-out splits keep only groups none of whose texts (base or negatives) is seen in train; the whole
  group is dropped, not just the clashing negative, so held-out groups stay complete;
- train keeps only groups whose base caption no earlier kept group has (`distinct=True`): two groups with
  the same base caption would be in-batch false negatives (the same text as two classes).

The grammar backend is free, so it draws n + n//4 + 8 groups at once and keeps the first n that pass. An
LLM backend is asked for exactly n groups (4 held-out groups cost 4 requests' worth, not 13), and only the
shortfall is asked again in further rounds with fresh ids (`{prefix}{round}r{index:07d}`), at most
`MAX_ROUNDS` times. Drafts are taken in id order, so the result is deterministic given the backend's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from synthmphn.captions.base import CaptionBackend, CaptionResult
from synthmphn.data.records import CaptionDraft
from synthmphn.seeding import derive_seed

SEEN_IN_TRAIN = "caption also in train"
TRAIN_DUPLICATE = "train: duplicate base caption"
MAX_ROUNDS = 4


def oversampled(n: int) -> int:
    """How many groups a free backend draws for n kept ones: n + n // 4 + 8."""
    return n + n // 4 + 8


def draft_texts(draft: CaptionDraft) -> list[str]:
    """Every text a group trains on or is evaluated with: its base caption and its negatives' captions."""
    return [draft.caption, *(negative.text for negative in draft.negatives)]


def train_texts(train: Iterable[CaptionDraft]) -> set[str]:
    """Every text seen in train (base and hard-negative captions)."""
    return {text for draft in train for text in draft_texts(draft)}


def generate_unseen(
    backend: CaptionBackend,
    n: int,
    seed: int,
    prefix: str,
    seen: set[str],
    oversample: bool,
    distinct: bool = False,
) -> CaptionResult:
    """Up to `n` drafts none of whose texts is in `seen` (train's texts); rejections count drops by reason.

    `distinct` (the train split): only base captions are checked, and each kept draft's base caption joins
    `seen`, so no two kept drafts share one. `oversample` (free backends) draws `oversampled(n)` at once
    first; otherwise exactly the missing count is asked each round.
    """
    seen = set(seen)
    reason = TRAIN_DUPLICATE if distinct else SEEN_IN_TRAIN
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
            if any(text in seen for text in ([draft.caption] if distinct else draft_texts(draft))):
                rejections[reason] += 1
            elif len(drafts) < n:
                drafts.append(draft)
                if distinct:
                    seen.add(draft.caption)
    return CaptionResult(drafts=drafts, rejections=rejections)
