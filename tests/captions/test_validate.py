"""Hard-negative validation: one contiguous word-level edit, not identical, not a duplicate; slot edits swap
exactly the old value for the new one."""

from __future__ import annotations

import pytest

from synthmphn.captions.validate import (
    apply_slot_edit,
    edit_blocks,
    normalized,
    validate_negative,
    validate_slot_edit,
    word_tokens,
)


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


# ----------------------------------------------------------------------------- slot edits

COLOUR = [("red", "blue")]


@pytest.mark.parametrize(
    ("negative", "reason"),
    [
        ("a blue circle on green grass", None),
        ("A blue circle, on green grass.", None),  # case and punctuation are not words
        ("a blue square on green grass", "wrong_words_out"),  # the subject changed too
        ("a red blue circle on green grass", "wrong_words_out"),  # inserted beside the old value
        ("a red circle on blue grass", "wrong_words_out"),  # the wrong slot
        ("a purple circle on green grass", "wrong_words_in"),  # not the planned value
        ("a blue circle on green grass. It is red.", "multiple_edits"),
        ("a red circle on green grass", "identical"),
    ],
)
def test_a_colour_edit_must_swap_exactly_the_old_value_for_the_new(negative, reason):
    assert validate_slot_edit("a red circle on green grass", negative, COLOUR) == reason


def test_slot_edits_allow_a_an_and_plurals_and_shared_words():
    assert validate_slot_edit("a red apple", "an orange apple", [("red", "orange")]) is None
    assert validate_slot_edit("two cats", "two dogs", [("cat", "dog"), ("cats", "dogs")]) is None
    digit = [("digit 3", "digit 2"), ("digit 3s", "digit 2s")]
    assert (
        validate_slot_edit("This image has a digit 3 in it.", "this image has a digit 2 in it", digit) is None
    )
    # the kept negative: the slot changed and two other words went with it
    assert validate_slot_edit("This image has a digit 3 in it.", "this image has a digit 2", digit) == (
        "wrong_words_out"
    )
    # the old value may stay where another slot states it
    assert (
        validate_slot_edit("a green bell on green grass", "a red bell on green grass", [("green", "red")])
        is None
    )


def test_apply_slot_edit_replaces_the_one_mention_and_fixes_the_article():
    assert apply_slot_edit("a red circle on green grass", COLOUR) == "a blue circle on green grass"
    assert apply_slot_edit("A red apple.", [("red", "orange")]) == "An orange apple."
    assert apply_slot_edit("an orange cat", [("orange", "red")]) == "a red cat"
    assert apply_slot_edit("three cats and a cat", [("cat", "dog"), ("cats", "dogs")]) is None  # ambiguous
    assert apply_slot_edit("two cats at the top", [("cat", "dog"), ("cats", "dogs")]) == "two dogs at the top"
    assert apply_slot_edit("a green bell on green grass", [("green", "red")]) is None  # which green?
    assert apply_slot_edit("a reddish circle", COLOUR) is None  # whole words only
