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


# ----------------------------------------------------------------------------- slot edits

WRONG_WORDS_OUT = "wrong_words_out"  # the edit removes words other than the old value
WRONG_WORDS_IN = "wrong_words_in"  # the edit inserts words other than the new value
OLD_VALUE_KEPT = "old_value_kept"  # the negative still states the old value
ARTICLES = ("a", "an")


def _core(old: list[str], new: list[str]) -> tuple[list[str], list[str]]:
    """`old` and `new` without their common leading and trailing words ("digit 3" / "digit 2" -> 3 / 2)."""
    start = 0
    while start < min(len(old), len(new)) and old[start] == new[start]:
        start += 1
    end = 0
    while end < min(len(old), len(new)) - start and old[-1 - end] == new[-1 - end]:
        end += 1
    return old[start : len(old) - end], new[start : len(new) - end]


def _drop_article_swap(removed: list[str], inserted: list[str]) -> tuple[list[str], list[str]]:
    """The block without a leading a/an change ("a red" -> "an orange" counts as "red" -> "orange")."""
    if removed and inserted and removed[0] in ARTICLES and inserted[0] in ARTICLES:
        return removed[1:], inserted[1:]
    return removed, inserted


def _count(words: list[str], phrase: list[str]) -> int:
    """How often `phrase` occurs in `words` as a contiguous run."""
    n = len(phrase)
    return sum(words[i : i + n] == phrase for i in range(len(words) - n + 1)) if n else 0


def validate_slot_edit(caption: str, negative: str, forms: list[tuple[str, str]]) -> str | None:
    """None when `negative` is `caption` with exactly one slot's old value replaced by its new value.

    `forms` lists the (old, new) phrasings allowed for the slot, e.g. [("cat", "dog"), ("cats", "dogs")].
    The one changed block must remove exactly an old phrasing and insert exactly the matching new one
    (words the two share, like "digit" in "digit 3" -> "digit 2", may stay unchanged; a leading a/an may
    change with it), nothing else may change, and the negative must state the old value fewer times than
    the caption (it may still occur in another slot: "green" in "a green bell on green grass").
    """
    blocks = edit_blocks(caption, negative)
    if len(blocks) != 1:
        return IDENTICAL if not blocks else MULTIPLE_EDITS
    removed, inserted = _drop_article_swap(*blocks[0])
    pairs = [(word_tokens(old), word_tokens(new)) for old, new in forms]
    candidates = [pair for old, new in pairs for pair in ((old, new), _core(old, new))]
    if not any(removed == old for old, _ in candidates):
        return WRONG_WORDS_OUT
    if not any(removed == old and inserted == new for old, new in candidates):
        return WRONG_WORDS_IN
    before, after = word_tokens(caption), word_tokens(negative)
    if any(_count(after, old) >= _count(before, old) > 0 and not _count(new, old) for old, new in pairs):
        return OLD_VALUE_KEPT
    return None


def apply_slot_edit(caption: str, forms: list[tuple[str, str]]) -> str | None:
    """`caption` with its one mention of the slot's old value replaced by the new value, or None.

    The old value, in any of its forms (singular, plural), must occur exactly once as whole words
    (case-insensitive), else None (the caller asks the LLM instead). A preceding a/an is fixed to suit
    the new value's first letter.
    """
    found = []
    for old, new in dict(forms).items():  # a plural equal to the singular is one form
        pattern = re.compile(rf"(?<![^\W_]){re.escape(old)}(?![^\W_])", re.IGNORECASE)
        found += [(match, new) for match in pattern.finditer(caption)]
    if len(found) != 1:
        return None
    match, new = found[0]
    head, tail = caption[: match.start()], caption[match.end() :]
    article = re.search(r"(?<![^\W_])(an?)(\s+)$", head, re.IGNORECASE)
    if article is not None:
        word = "an" if new[:1].lower() in "aeiou" else "a"
        word = word.capitalize() if article.group(1)[0].isupper() else word
        head = head[: article.start()] + word + article.group(2)
    return head + new + tail
