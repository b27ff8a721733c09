"""Hard-negative validation for free text: a negative must be the caption with ONE contiguous word-level edit.

Captions are compared as lowercased word tokens with punctuation dropped ("Top-left," == "top left"), using
difflib. A negative passes when the diff has exactly one non-equal block (a replace, an insertion or a
deletion), it is not identical to the caption, and it does not repeat a caption already used in its group.
Failures return a reason string, which backends count in `CaptionResult.rejections`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

EMPTY = "empty"
IDENTICAL = "identical"
MULTIPLE_EDITS = "multiple_edits"
DUPLICATE = "duplicate"

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")


def word_tokens(text: str) -> list[str]:
    """Lowercased word tokens without punctuation: the unit a hard-negative diff counts in."""
    return _WORD.findall(text.lower())


def normalized(text: str) -> str:
    """The caption as its word tokens joined by single spaces (equal for captions that differ only in case
    or punctuation)."""
    return " ".join(word_tokens(text))


def edit_blocks(caption: str, negative: str) -> list[tuple[list[str], list[str]]]:
    """The non-equal blocks of the word-level diff, each as (words removed, words inserted)."""
    a, b = word_tokens(caption), word_tokens(negative)
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    return [(a[i1:i2], b[j1:j2]) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"]


def validate_negative(caption: str, negative: str, seen: Iterable[str] = ()) -> str | None:
    """None when `negative` is a valid hard negative of `caption`, else the rejection reason.

    `seen` holds captions already in the group (other negatives), so a repeat is rejected as a duplicate.
    """
    words = word_tokens(negative)
    if not words:
        return EMPTY
    if words == word_tokens(caption):
        return IDENTICAL
    text = " ".join(words)
    if any(text == normalized(other) for other in seen):
        return DUPLICATE
    if len(edit_blocks(caption, negative)) != 1:
        return MULTIPLE_EDITS
    return None
