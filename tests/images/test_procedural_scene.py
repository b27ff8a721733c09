"""Spec parsing, name canonicalisation, colours/backgrounds/textures and layout of the procedural renderer."""

from __future__ import annotations

import numpy as np
import pytest

from synthmphn.data.records import CaptionSpec
from synthmphn.images.procedural import SUBJECT_CATEGORIES, SUPPORTED_SUBJECTS, canonical_subject
from synthmphn.images.procedural.palette import resolve_background, resolve_colour
from synthmphn.images.procedural.scene import (
    POSITIONS,
    canonical_count,
    canonical_position,
    canonical_size,
    layout,
    parse_scene,
)
from synthmphn.images.procedural.textures import TEXTURES, canonical_texture, texture_pattern


def test_supported_subjects_cover_the_brief():
    assert [f"digit {i}" for i in range(10)] == [s for s in SUPPORTED_SUBJECTS if s.startswith("digit")]
    for name in (
        "circle",
        "square",
        "triangle",
        "star",
        "hexagon",
        "heart",
        "cross",
        "diamond",
        "pentagon",
        "ring",
    ):
        assert SUBJECT_CATEGORIES[name] == "shape"
    for name in (
        "house",
        "tree",
        "cup",
        "fish",
        "car",
        "umbrella",
        "key",
        "flower",
        "sun",
        "moon",
        "arrow",
        "bell",
    ):
        assert SUBJECT_CATEGORIES[name] == "object"
    assert sorted(set(SUPPORTED_SUBJECTS)) == SUPPORTED_SUBJECTS


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Circle", "circle"),
        ("circles", "circle"),
        ("crosses", "cross"),
        ("butterflies", "butterfly"),
        ("digit 7", "digit 7"),
        ("7", "digit 7"),
        ("number 3", "digit 3"),
        ("digit seven", "digit 7"),
        ("a plane", "airplane"),
        ("Light-Bulb", "light bulb"),
        ("zebra unicorn", None),
    ],
)
def test_canonical_subject(name, expected):
    assert canonical_subject(name) == expected


def test_parse_scene_canonicalises_attributes():
    spec = CaptionSpec(
        subject="stars",
        category="shape",
        attributes={
            "color": "Red",
            "size": "big",
            "position": "upper-left corner",
            "count": "two",
            "material": "polka dots",
        },
    )
    scene = parse_scene(spec, "procedural:flat")
    assert (scene.subject, scene.category, scene.colour) == ("star", "shape", "Red")
    assert (scene.size, scene.position, scene.count, scene.texture) == ("large", "top left", 2, "dotted")
    assert scene.background is None


@pytest.mark.parametrize("value", ["one", "1", "two", "2", "three", "3", "four", "4", "a pair of"])
def test_counts_accept_words_and_digits(value):
    assert canonical_count(value) in (1, 2, 3, 4)
    assert canonical_count("two") == canonical_count("2") == 2


@pytest.mark.parametrize(
    ("call", "bad", "listed"),
    [
        (canonical_size, "gigantic-ish", "small"),
        (canonical_position, "far away", "top left"),
        (canonical_count, "lots", "1.."),
    ],
)
def test_unknown_attribute_values_are_clear_errors(call, bad, listed):
    with pytest.raises(ValueError, match=listed):
        call(bad)


def test_positions_and_synonyms():
    assert {canonical_position(p) for p in POSITIONS} == set(POSITIONS)
    assert canonical_position("in the middle") == "center"
    assert canonical_position("Lower Right") == "bottom right"
    assert canonical_position("on the left side") == "left"


def test_colour_resolution_order():
    assert resolve_colour("red") == resolve_colour("RED")
    sky = resolve_colour("sky blue")
    assert sky[2] > sky[0]
    assert np.allclose(
        resolve_colour("midnight blue"), (25 / 255, 25 / 255, 112 / 255), atol=1e-3
    )  # matplotlib CSS4
    assert resolve_colour("zorblax") == resolve_colour("zorblax")  # hashed, stable
    assert resolve_colour("zorblax") != resolve_colour("quuxish")


def test_background_recipes():
    assert resolve_background("blue sky").kind == "vgradient"
    assert resolve_background("night").kind == "stars"
    assert resolve_background("yellow").kind == "solid"  # any colour name is a solid background
    odd = resolve_background("zorblax meadow")
    assert odd.kind == "solid" and odd == resolve_background("Zorblax Meadow")


def test_textures_known_and_fallback():
    rng = np.random.default_rng(0)
    assert canonical_texture(None) == "plain" and texture_pattern("plain", rng, 8, 8, 4) is None
    for name in TEXTURES[1:]:
        pattern = texture_pattern(name, np.random.default_rng(0), 32, 32, 6.0)
        assert pattern is not None and pattern.shape == (32, 32), name
        assert pattern.min() >= 0.0 and pattern.max() <= 1.0, name
    a = texture_pattern("scaly", np.random.default_rng(1), 32, 32, 6.0)
    b = texture_pattern("scaly", np.random.default_rng(1), 32, 32, 6.0)
    assert np.array_equal(a, b) and a.std() > 0


@pytest.mark.parametrize("count", range(1, 10))
@pytest.mark.parametrize("position", [None, "left", "top right", "center"])
def test_layout_slots_do_not_overlap_and_stay_inside(count, position):
    attrs = {"count": str(count), **({"position": position} if position else {})}
    scene = parse_scene(CaptionSpec(subject="circle", category="shape", attributes=attrs), "test")
    for seed in range(5):
        slots = layout(scene, np.random.default_rng(seed), 128, (0.35, 0.6))
        assert len(slots) == count
        for i, a in enumerate(slots):
            assert a.diameter / 2 <= a.cx <= 128 - a.diameter / 2 + 1e-6
            assert a.diameter / 2 <= a.cy <= 128 - a.diameter / 2 + 1e-6
            for b in slots[i + 1 :]:
                assert np.hypot(a.cx - b.cx, a.cy - b.cy) >= (a.diameter + b.diameter) / 2


def test_size_edit_keeps_slot_centres():
    """The layout stream draws the same numbers whether or not a size is given (controlled negatives)."""
    make = lambda size: parse_scene(  # noqa: E731
        CaptionSpec(subject="circle", category="shape", attributes={"size": size, "count": "2"}), "test"
    )
    small = layout(make("small"), np.random.default_rng(3), 128, (0.35, 0.6))
    large = layout(make("large"), np.random.default_rng(3), 128, (0.35, 0.6))
    assert all(s.diameter < big.diameter for s, big in zip(small, large, strict=True))
