"""Which drafts a split keeps, so held-out captions are really unseen and train has no duplicate captions.

A text is *seen in train* when it is any train caption: a base caption or a hard negative's caption (both
are trained with images). Rules, applied to a backend's drafts in id order (so the result is a pure,
deterministic function of the drafts):

- train: keep the first `n` drafts whose base caption no earlier kept draft has as its base caption. Two
  groups with the same base caption would be in-batch false negatives (the same text as two classes).
- held-out splits: keep the first `n` drafts none of whose texts (base or negatives) is seen in train.
  The whole group is dropped, not just the clashing negative, so held-out groups stay complete.

Backends are asked for a few more drafts than needed (`oversampled`); what is dropped is counted by reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from synthmphn.data.records import CaptionDraft

TRAIN_DUPLICATE = "train: duplicate base caption"


def oversampled(n: int) -> int:
    """How many drafts to ask a backend for when up to ~20% may be dropped: n + n // 4 + 8."""
    return n + n // 4 + 8


def draft_texts(draft: CaptionDraft) -> list[str]:
    """Every text a group trains on or is evaluated with: its base caption and its negatives' captions."""
    return [draft.caption, *(negative.text for negative in draft.negatives)]


def train_texts(train: Iterable[CaptionDraft]) -> set[str]:
    """Every text seen in train (base and hard-negative captions)."""
    return {text for draft in train for text in draft_texts(draft)}


def distinct_train_drafts(drafts: Sequence[CaptionDraft], n: int) -> tuple[list[CaptionDraft], Counter[str]]:
    """The first `n` drafts with pairwise different base captions, and the count of duplicates dropped."""
    kept: list[CaptionDraft] = []
    seen: set[str] = set()
    dropped: Counter[str] = Counter()
    for draft in drafts:
        if len(kept) == n:
            break
        if draft.caption in seen:
            dropped[TRAIN_DUPLICATE] += 1
            continue
        seen.add(draft.caption)
        kept.append(draft)
    return kept, dropped


def unseen_drafts(
    split: str, drafts: Sequence[CaptionDraft], train: Sequence[CaptionDraft], n: int
) -> tuple[list[CaptionDraft], Counter[str]]:
    """The first `n` drafts of held-out `split` with no text seen in train, and the count dropped."""
    seen = train_texts(train)
    kept: list[CaptionDraft] = []
    dropped: Counter[str] = Counter()
    for draft in drafts:
        if len(kept) == n:
            break
        if any(text in seen for text in draft_texts(draft)):
            dropped[f"{split}: caption also in train"] += 1
            continue
        kept.append(draft)
    return kept, dropped


def split_drafts(
    split: str, drafts: Sequence[CaptionDraft], train: Sequence[CaptionDraft], n: int
) -> tuple[list[CaptionDraft], Counter[str]]:
    """`distinct_train_drafts` for the train split, `unseen_drafts` against `train` for any other."""
    if split == "train":
        return distinct_train_drafts(drafts, n)
    return unseen_drafts(split, drafts, train, n)
