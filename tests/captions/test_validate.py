"""Hard-negative validation: exactly one contiguous word-level edit, not identical, not a duplicate."""

from __future__ import annotations

import pytest

from synthmphn.captions.validate import edit_blocks, normalized, validate_negative, word_tokens


def test_word_tokens_ignore_case_and_punctuation():
    assert word_tokens("A Top-left, digit 3!") == ["a", "top", "left", "digit", "3"]
    assert normalized("  Two  circles.  ") == "two circles"


@pytest.mark.parametrize(
    ("caption", "negative", "reason"),
    [
        ("a red circle", "a blue circle", None),  # one replace
        ("a circle", "a red circle", None),  # insertion
        ("a small red circle", "a red circle", None),  # deletion
        ("a square at the top left", "a square at the bottom right", None),  # multi-word replace
        ("a red circle", "an orange circle", None),  # article changes with the value: still contiguous
        ("one circle in red", "two circles in red", None),  # count and plural noun are adjacent
        ("a red circle on a white background", "a blue circle on a black background", "multiple_edits"),
        ("one red circle", "two red circles", "multiple_edits"),  # plural noun apart from the count word
        ("a red circle", "a red circle", "identical"),
        ("A red circle.", "a red, circle", "identical"),  # punctuation and case do not count
        ("a red circle", "", "empty"),
        ("a red circle", " ?! ", "empty"),
    ],
)
def test_validate_negative_cases(caption, negative, reason):
    assert validate_negative(caption, negative) == reason


def test_duplicate_of_a_seen_caption():
    seen = ["a blue circle", "a green circle"]
    assert validate_negative("a red circle", "A blue circle!", seen) == "duplicate"
    assert validate_negative("a red circle", "a pink circle", seen) is None


def test_edit_blocks_report_the_changed_words():
    assert edit_blocks("a red circle at the left", "a red circle at the top left") == [([], ["top"])]
    assert edit_blocks("a red circle", "a blue square") == [(["red", "circle"], ["blue", "square"])]
