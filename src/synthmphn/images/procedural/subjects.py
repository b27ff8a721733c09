"""The subjects the procedural styles can draw, their categories, and name canonicalisation.

`SUPPORTED_SUBJECTS` is the list a concept bank is checked against. A caption may say 'circles',
'number 7' or 'plane'; `canonical_subject` maps such spellings to the drawable subject or None.
"""

from __future__ import annotations

from synthmphn.images.procedural.garments import GARMENTS, garment_parts
from synthmphn.images.procedural.icons import ICONS
from synthmphn.images.procedural.palette import normalise_name
from synthmphn.images.procedural.shapes import SHAPES, Subject

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

SUBJECT_CATEGORIES: dict[str, str] = {
    **{f"digit {i}": "digit" for i in range(10)},
    **dict.fromkeys(SHAPES, "shape"),
    **dict.fromkeys((name for name in ICONS if name not in GARMENTS), "object"),
    **dict.fromkeys(GARMENTS, "garment"),
}
"""Every drawable subject -> its category ('digit', 'shape', 'object' or 'garment')."""

SUPPORTED_SUBJECTS: list[str] = sorted(SUBJECT_CATEGORIES)
"""Every subject name the procedural generators draw (the concept bank is checked against this)."""

SUBJECT_ALIASES: dict[str, str] = {
    "plus": "cross",
    "plus sign": "cross",
    "ellipse": "oval",
    "rhombus": "diamond",
    "lozenge": "diamond",
    "five pointed star": "star",
    "six pointed star": "hexagram",
    "half circle": "semicircle",
    "drop": "teardrop",
    "water drop": "teardrop",
    "raindrop": "teardrop",
    "donut": "ring",
    "doughnut": "ring",
    "sailboat": "boat",
    "ship": "boat",
    "plane": "airplane",
    "aeroplane": "airplane",
    "jet": "airplane",
    "bike": "bicycle",
    "lightning bolt": "lightning",
    "bolt": "lightning",
    "present": "gift",
    "gift box": "gift",
    "tshirt": "t shirt",
    "t shirt/top": "t shirt",
    "t shirt top": "t shirt",
    "tee": "t shirt",
    "trousers": "trouser",
    "pants": "trouser",
    "sweater": "pullover",
    "jacket": "coat",
    "handbag": "bag",
    "boot": "ankle boot",
    "trainer": "sneaker",
    "coffee cup": "cup",
    "teacup": "cup",
    "tea cup": "cup",
    "automobile": "car",
    "kitten": "cat",
    "lightbulb": "light bulb",
    "bulb": "light bulb",
    "padlock": "lock",
    "fir tree": "pine tree",
    "christmas tree": "pine tree",
    "ice cream cone": "ice cream",
    "top hat": "hat",
    "gemstone": "gem",
    "jewel": "gem",
    "crystal": "gem",
    "hex nut": "nut",
    "sea star": "starfish",
    "beach ball": "ball",
    "football": "ball",
    "envelope letter": "envelope",
    "letter": "envelope",
    "mountain peak": "mountain",
    "crescent moon": "moon",
}

_PLURAL_IRREGULAR = {"leaves": "leaf", "cherries": "cherry", "butterflies": "butterfly"}


def _digit_from_name(key: str) -> str | None:
    for prefix in ("digit ", "number ", "numeral ", "the digit ", "the number ", ""):
        if key.startswith(prefix):
            rest = key[len(prefix) :].strip()
            if rest.isdigit() and len(rest) == 1:
                return f"digit {rest}"
            if rest in DIGIT_WORDS:
                return f"digit {DIGIT_WORDS.index(rest)}"
    return None


def canonical_subject(name: str) -> str | None:
    """The drawable subject a name refers to ('Circles' -> 'circle', 'number 7' -> 'digit 7'), else None."""
    key = normalise_name(name)
    for article in ("a ", "an ", "the "):
        key = key.removeprefix(article)
    if key in SUBJECT_CATEGORIES:
        return key
    digit = _digit_from_name(key)
    if digit is not None:
        return digit
    if key in SUBJECT_ALIASES:
        return SUBJECT_ALIASES[key]
    if key in _PLURAL_IRREGULAR:
        return _PLURAL_IRREGULAR[key]
    for suffix, repl in (("ies", "y"), ("es", ""), ("s", "")):
        if key.endswith(suffix):
            singular = key[: -len(suffix)] + repl
            if singular in SUBJECT_CATEGORIES:
                return singular
            if singular in SUBJECT_ALIASES:
                return SUBJECT_ALIASES[singular]
    return None


def subject_parts(subject: str) -> Subject:
    """The vector parts of a shape or object subject (digits are drawn by `digits`; a garment's canonical
    variant here, `garments.garment_parts` draws the others)."""
    if subject in GARMENTS:
        return garment_parts(subject)
    return SHAPES.get(subject) or ICONS[subject]
