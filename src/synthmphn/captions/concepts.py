"""The concept bank: subjects (with categories) and attribute values that captions are written from.

The built-in bank is `captions/concepts.yaml` (digits, geometric shapes, everyday icons). A user bank is given
by `captions.concepts_file`:

- YAML or JSON with the built-in schema (see the header of concepts.yaml). Only `subjects` is required;
  `attributes`, `antonyms` and `distinct` default to the built-in ones when absent, `categories` to none.
  A subject may be a plain string (category `object`) or a mapping `{name, category, display, plural,
  attributes}`.
- Plain text (`.txt`): one subject per line, either `name` or `name | category` (default category
  `object`); blank lines and lines starting with `#` are skipped. Attributes are the built-in ones.

`captions.subjects` / `captions.categories` then keep only the named subjects / categories (both filters
apply). A bank, file or filter that leaves no subject is a ValueError naming the file or field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from synthmphn.config import CaptionsConfig

BUILTIN_BANK = Path(__file__).with_name("concepts.yaml")
DEFAULT_CATEGORY = "object"


@dataclass(frozen=True)
class Subject:
    """One drawable concept: its caption text (singular and plural), category and usable attributes."""

    name: str
    category: str
    display: str
    plural: str
    attributes: tuple[str, ...]


@dataclass(frozen=True)
class ConceptBank:
    """Subjects and attribute values; `source` names where it came from (for error messages)."""

    subjects: tuple[Subject, ...]
    attributes: dict[str, tuple[str, ...]]
    antonyms: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    distinct: tuple[tuple[str, str], ...] = ()
    source: str = "concepts"

    def subject(self, name: str) -> Subject:
        """The subject called `name`; KeyError lists the known names."""
        for subject in self.subjects:
            if subject.name == name:
                return subject
        raise KeyError(f"{self.source}: unknown subject {name!r}; known: {', '.join(self.names())}")

    def names(self) -> list[str]:
        """Subject names in bank order."""
        return [s.name for s in self.subjects]

    def categories(self) -> list[str]:
        """Category names in order of first appearance."""
        return list(dict.fromkeys(s.category for s in self.subjects))


# ----------------------------------------------------------------------------- file schema


class _SubjectEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    category: str = DEFAULT_CATEGORY
    display: str | None = None
    plural: str | None = None
    attributes: list[str] | None = None


class _CategoryEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    attributes: list[str] | None = None


class _BankFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    attributes: dict[str, list[str]] | None = None
    antonyms: dict[str, list[list[str]]] | None = None
    distinct: list[list[str]] | None = None
    categories: dict[str, _CategoryEntry] = {}
    subjects: list[_SubjectEntry | str]


def plural_of(noun: str) -> str:
    """English plural of the last word of `noun` (box -> boxes, berry -> berries, key -> keys)."""
    head, _, last = noun.rpartition(" ")
    if last.endswith(("s", "x", "z", "ch", "sh")):
        last += "es"
    elif last.endswith("y") and len(last) > 1 and last[-2] not in "aeiou":
        last = last[:-1] + "ies"
    else:
        last += "s"
    return f"{head} {last}" if head else last


def _read_tree(path: Path) -> dict[str, Any]:
    """Parses a YAML/JSON bank file, or turns a .txt list of subjects into the same tree."""
    if not path.is_file():
        raise FileNotFoundError(f"concepts file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(
            f"captions.concepts_file={path}: not a UTF-8 text file (byte {err.start}: {err.reason}); "
            "give a YAML, JSON or .txt concept list"
        ) from None
    if path.suffix.lower() == ".txt":
        return {"subjects": _subjects_from_lines(text)}
    try:
        tree = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as err:
        raise ValueError(f"{path}: not valid {path.suffix.lstrip('.').upper() or 'YAML'} ({err})") from None
    if tree is None:
        raise ValueError(f"{path}: subjects: the concepts file is empty; list at least one subject")
    if not isinstance(tree, dict):
        raise ValueError(f"{path}: top level must be a mapping with a `subjects` list")
    return tree


def _subjects_from_lines(text: str) -> list[dict[str, str]]:
    """`name` or `name | category` per line; blank and `#` lines skipped."""
    subjects = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, category = (part.strip() for part in line.partition("|"))
        subjects.append({"name": name, "category": category or DEFAULT_CATEGORY})
    return subjects


def _validate_tree(tree: dict[str, Any], source: str) -> _BankFile:
    """Validates the schema, naming the file and dotted field on error."""
    try:
        return _BankFile.model_validate(tree)
    except ValidationError as err:
        lines = [
            f"{source}: {'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
            for e in err.errors()
        ]
        raise ValueError("\n".join(lines)) from None


def _build_bank(spec: _BankFile, source: str, defaults: ConceptBank | None) -> ConceptBank:
    """Turns a validated file into a ConceptBank, filling gaps from `defaults` and checking references."""
    attributes = _attribute_values(spec, source, defaults)
    antonyms = _antonym_map(spec, attributes, source, defaults)
    distinct = _distinct_pairs(spec, attributes, source, defaults)
    subjects = tuple(_subject(entry, spec, attributes, source, i) for i, entry in enumerate(spec.subjects))
    if not subjects:
        raise ValueError(
            f"{source}: subjects: the list is empty; the concept bank needs at least one subject"
        )
    names = [s.name for s in subjects]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"{source}: subjects: duplicate names {duplicates}")
    return ConceptBank(subjects, attributes, antonyms, distinct, source)


def _attribute_values(
    spec: _BankFile, source: str, defaults: ConceptBank | None
) -> dict[str, tuple[str, ...]]:
    if spec.attributes is None:
        return dict(defaults.attributes) if defaults else {}
    values = {}
    for name, items in spec.attributes.items():
        if not items:
            raise ValueError(f"{source}: attributes.{name}: the value list is empty")
        if len(set(items)) != len(items):
            raise ValueError(f"{source}: attributes.{name}: duplicate values in {items}")
        values[name] = tuple(str(v) for v in items)
    return values


def _antonym_map(
    spec: _BankFile, attributes: dict[str, tuple[str, ...]], source: str, defaults: ConceptBank | None
) -> dict[str, dict[str, tuple[str, ...]]]:
    if spec.antonyms is None:
        kept = defaults.antonyms if defaults and spec.attributes is None else {}
        return dict(kept)
    result: dict[str, dict[str, tuple[str, ...]]] = {}
    for name, pairs in spec.antonyms.items():
        known = attributes.get(name)
        if known is None:
            raise ValueError(f"{source}: antonyms.{name}: unknown attribute; known: {sorted(attributes)}")
        partners: dict[str, list[str]] = {}
        for pair in pairs:
            if len(pair) != 2 or any(v not in known for v in pair):
                raise ValueError(f"{source}: antonyms.{name}: {pair} must be two values of attributes.{name}")
            partners.setdefault(pair[0], []).append(pair[1])
            partners.setdefault(pair[1], []).append(pair[0])
        result[name] = {value: tuple(others) for value, others in partners.items()}
    return result


def _distinct_pairs(
    spec: _BankFile, attributes: dict[str, tuple[str, ...]], source: str, defaults: ConceptBank | None
) -> tuple[tuple[str, str], ...]:
    if spec.distinct is None:
        pairs = defaults.distinct if defaults else ()
        return tuple(p for p in pairs if p[0] in attributes and p[1] in attributes)
    result = []
    for pair in spec.distinct:
        if len(pair) != 2 or any(name not in attributes for name in pair):
            raise ValueError(f"{source}: distinct: {pair} must name two attributes of {sorted(attributes)}")
        result.append((pair[0], pair[1]))
    return tuple(result)


def _subject(
    entry: _SubjectEntry | str,
    spec: _BankFile,
    attributes: dict[str, tuple[str, ...]],
    source: str,
    index: int,
) -> Subject:
    if isinstance(entry, str):
        entry = _SubjectEntry(name=entry)
    name = entry.name.strip()
    if not name:
        raise ValueError(f"{source}: subjects.{index}.name: empty subject name")
    category_entry = spec.categories.get(entry.category)
    usable = entry.attributes
    if usable is None and category_entry is not None:
        usable = category_entry.attributes
    if usable is None:
        usable = list(attributes)
    unknown = [a for a in usable if a not in attributes]
    if unknown:
        raise ValueError(
            f"{source}: subjects.{index} ({name}): unknown attributes {unknown}; known: {sorted(attributes)}"
        )
    return Subject(
        name=name,
        category=entry.category,
        display=entry.display or name,
        plural=entry.plural or plural_of(name),
        attributes=tuple(usable),
    )


@lru_cache(maxsize=1)
def builtin_bank() -> ConceptBank:
    """The bank shipped with the package (captions/concepts.yaml)."""
    tree = yaml.safe_load(BUILTIN_BANK.read_text(encoding="utf-8"))
    return _build_bank(_validate_tree(tree, str(BUILTIN_BANK)), str(BUILTIN_BANK), None)


def load_bank(path: str | Path | None = None) -> ConceptBank:
    """Loads a concept bank file (YAML, JSON or .txt, see the module doc), or the built-in one when None."""
    if path is None:
        return builtin_bank()
    path = Path(path)
    tree = _read_tree(path)
    return _build_bank(_validate_tree(tree, str(path)), str(path), builtin_bank())


def filter_bank(
    bank: ConceptBank, subjects: list[str] | None = None, categories: list[str] | None = None
) -> ConceptBank:
    """Keeps the named subjects and categories (None = all); unknown names or an empty result are errors."""
    kept = list(bank.subjects)
    if subjects is not None:
        unknown = [n for n in subjects if n not in bank.names()]
        if unknown:
            raise ValueError(
                f"captions.subjects: unknown subjects {unknown} in {bank.source}; known: {bank.names()}"
            )
        kept = [s for s in kept if s.name in subjects]
    if categories is not None:
        unknown = [c for c in categories if c not in bank.categories()]
        if unknown:
            raise ValueError(
                f"captions.categories: unknown categories {unknown} in {bank.source}; "
                f"known: {bank.categories()}"
            )
        kept = [s for s in kept if s.category in categories]
    if not kept:
        raise ValueError(
            f"captions.subjects={subjects} / captions.categories={categories} leave no subject "
            f"of {bank.source}; name at least one subject that the bank has"
        )
    return ConceptBank(tuple(kept), bank.attributes, bank.antonyms, bank.distinct, bank.source)


def bank_for(config: CaptionsConfig) -> ConceptBank:
    """The concept bank a caption stage uses: `concepts_file` (or the built-in) with the config's filters."""
    return filter_bank(load_bank(config.concepts_file), config.subjects, config.categories)


def class_table(config: CaptionsConfig) -> list[dict[str, Any]]:
    """Subjects as class rows `{index, name, category, display}`; build writes it to dataset/classes.json."""
    bank = bank_for(config)
    return [
        {"index": i, "name": s.name, "category": s.category, "display": s.display}
        for i, s in enumerate(bank.subjects)
    ]
