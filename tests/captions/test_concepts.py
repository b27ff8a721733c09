"""The concept bank: built-in content, user files (YAML/JSON/txt), filters and class table."""

from __future__ import annotations

import json

import pytest

from synthmphn.captions.concepts import bank_for, builtin_bank, class_table, load_bank, plural_of
from synthmphn.config import CaptionsConfig
from synthmphn.data.records import ATTRIBUTE_NAMES
from synthmphn.eval.datasets import FASHION_CLASSNAMES


def test_builtin_bank_has_digits_shapes_objects_and_garments():
    bank = builtin_bank()
    digits = [s.name for s in bank.subjects if s.category == "digit"]
    assert digits == [f"digit {d}" for d in range(10)]
    assert bank.categories() == ["digit", "shape", "object", "garment"]
    garments = [s.name for s in bank.subjects if s.category == "garment"]
    assert tuple(garments) == FASHION_CLASSNAMES  # Fashion-MNIST's classes, in its label order
    assert 8 <= sum(s.category == "shape" for s in bank.subjects) <= 12
    assert 10 <= sum(s.category == "object" for s in bank.subjects) <= 12
    assert tuple(bank.attributes) == ATTRIBUTE_NAMES
    assert bank.attributes["count"] == ("one", "two", "three", "four")
    assert bank.attributes["size"] == ("small", "medium", "large")
    assert ("colour", "background") in bank.distinct


def test_builtin_antonyms_are_symmetric_and_known_values():
    bank = builtin_bank()
    for name, partners in bank.antonyms.items():
        for value, others in partners.items():
            assert value in bank.attributes[name]
            for other in others:
                assert value in partners[other]


def test_digit_plural_keeps_name_verbatim():
    bank = builtin_bank()
    assert all(s.name in s.plural for s in bank.subjects if s.category == "digit")
    assert bank.subject("fish").plural == "fish"
    assert bank.subject("cross").plural == "crosses"


@pytest.mark.parametrize(
    ("noun", "plural"),
    [
        ("circle", "circles"),
        ("box", "boxes"),
        ("berry", "berries"),
        ("key", "keys"),
        ("paper cup", "paper cups"),
        ("brush", "brushes"),
    ],
)
def test_plural_of(noun, plural):
    assert plural_of(noun) == plural


def test_class_table_rows_and_filters():
    rows = class_table(CaptionsConfig())
    assert len(rows) == len(builtin_bank().subjects)
    assert rows[0] == {"index": 0, "name": "digit 0", "category": "digit", "display": "digit 0"}
    digits = class_table(CaptionsConfig(categories=["digit"]))
    assert [r["name"] for r in digits] == [f"digit {d}" for d in range(10)]
    assert [r["index"] for r in digits] == list(range(10))


def test_filters_intersect():
    config = CaptionsConfig(subjects=["circle", "digit 3", "house"], categories=["shape", "object"])
    assert bank_for(config).names() == ["circle", "house"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"subjects": []}, "captions.subjects"),
        ({"categories": []}, "captions.categories"),
        ({"subjects": ["circle"], "categories": ["digit"]}, "captions.subjects"),
        ({"subjects": ["unicorn"]}, "captions.subjects"),
        ({"categories": ["animal"]}, "captions.categories"),
    ],
)
def test_filters_that_leave_nothing_or_name_unknowns_fail(overrides, field):
    with pytest.raises(ValueError, match=field):
        bank_for(CaptionsConfig(**overrides))


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("empty.yaml", ""),
        ("empty.txt", "# only a comment\n\n"),
        ("none.yaml", "subjects: []\n"),
        ("none.json", '{"subjects": []}'),
    ],
)
def test_empty_concepts_file_fails_naming_file_and_field(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ValueError, match="subjects") as err:
        load_bank(path)
    assert str(path) in str(err.value)


def test_missing_concepts_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        load_bank(tmp_path / "nope.yaml")


def test_txt_concepts_file(tmp_path):
    path = tmp_path / "fruit.txt"
    path.write_text("# fruit\napple | fruit\npear | fruit\nkettle\n")
    bank = load_bank(path)
    assert bank.names() == ["apple", "pear", "kettle"]
    assert [s.category for s in bank.subjects] == ["fruit", "fruit", "object"]
    assert bank.attributes == builtin_bank().attributes
    assert bank.subject("pear").plural == "pears"


def test_yaml_concepts_file_with_own_attributes(tmp_path):
    path = tmp_path / "bank.yaml"
    path.write_text(
        "attributes:\n  colour: [red, blue]\n  material: [wooden, metal]\n"
        "antonyms:\n  material: [[wooden, metal]]\n"
        "categories:\n  toy:\n    attributes: [colour, material]\n"
        "subjects:\n  - {name: ball, category: toy}\n  - {name: box, category: toy, attributes: [material]}\n"
        "  - lamp\n"
    )
    bank = load_bank(path)
    assert bank.subject("ball").attributes == ("colour", "material")
    assert bank.subject("box").attributes == ("material",)
    assert bank.subject("box").plural == "boxes"
    assert bank.subject("lamp").attributes == ("colour", "material")
    assert bank.antonyms["material"] == {"wooden": ("metal",), "metal": ("wooden",)}
    assert bank.distinct == ()  # builtin colour/background pair does not apply without background


@pytest.mark.parametrize(
    ("tree", "message"),
    [
        ({"subjects": [{"name": "x", "attributes": ["smell"]}]}, "unknown attributes"),
        ({"subjects": ["a", "a"]}, "duplicate"),
        ({"attributes": {"colour": []}, "subjects": ["a"]}, "attributes.colour"),
        ({"antonyms": {"colour": [["red", "plaid"]]}, "subjects": ["a"]}, "antonyms.colour"),
        ({"subjects": [{"nam": "typo"}]}, "subjects.0"),
        ({"subject": ["a"]}, "subjects"),
    ],
)
def test_invalid_json_concepts_file(tmp_path, tree, message):
    path = tmp_path / "bank.json"
    path.write_text(json.dumps(tree))
    with pytest.raises(ValueError, match=message):
        load_bank(path)


def test_concepts_file_via_config(tmp_path):
    path = tmp_path / "s.txt"
    path.write_text("teapot\nkettle\n")
    assert bank_for(CaptionsConfig(concepts_file=path, subjects=["kettle"])).names() == ["kettle"]
