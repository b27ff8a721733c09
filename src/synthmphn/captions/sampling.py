"""Sampling what a group says: a base `CaptionSpec` and the one-slot edits its hard negatives make.

Every backend plans groups the same way, so the spec of a caption and of each negative is known before any
text is written; the grammar renders them, an LLM is asked to phrase them.

A spec states a random subset of the subject's attributes (each with probability `STATE_PROBABILITY`), plus
every attribute a planned negative edits (a negative may only change what the caption states, or the
negative's image could still match the caption). Subject swaps prefer another subject of the same category
(co-hyponyms, `PREFER_SAME_CATEGORY`) and attribute swaps prefer the bank's antonyms (`PREFER_RELATED`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from synthmphn.captions.concepts import ConceptBank, Subject
from synthmphn.config import CaptionsConfig
from synthmphn.data.records import CaptionSpec
from synthmphn.seeding import derive_seed

STATE_PROBABILITY = {
    "colour": 0.8,
    "size": 0.5,
    "position": 0.5,
    "count": 0.35,
    "texture": 0.4,
    "background": 0.5,
}
DEFAULT_STATE_PROBABILITY = 0.5  # attributes of user banks not listed above
PREFER_RELATED = 0.6  # attribute swaps: chance to take an antonym when the value has one
PREFER_SAME_CATEGORY = 0.8  # subject swaps: chance to take a co-hyponym when one exists
NO_EDIT_LEFT = "no_edit_left"  # rejection reason: a planned negative had no unused value left


@dataclass(frozen=True)
class Edit:
    """One hard-negative edit: its kind (`subject` or `attribute:<name>`), new value and resulting spec."""

    kind: str
    value: str
    old: str
    spec: CaptionSpec


@dataclass(frozen=True)
class GroupPlan:
    """A base spec and the edits of its negatives (fewer than asked when the bank runs out of values)."""

    spec: CaptionSpec
    edits: tuple[Edit, ...]
    missing: int = 0  # negatives asked for but impossible (no unused value left)


def resolve_edit_kinds(bank: ConceptBank, kinds: list[str]) -> list[str]:
    """Turns config names (`subject`, `colour` or `attribute:colour`) into edit kinds; unknown names fail."""
    resolved = []
    for name in kinds:
        kind = name if name == "subject" or name.startswith("attribute:") else f"attribute:{name}"
        if kind != "subject" and kind.removeprefix("attribute:") not in bank.attributes:
            known = ["subject", *bank.attributes]
            raise ValueError(f"captions.negative_kinds: unknown kind {name!r}; known: {known}")
        if kind not in resolved:
            resolved.append(kind)
    return resolved


def resolve_kind_weights(kinds: list[str], weights: dict[str, float]) -> dict[str, float]:
    """Config weights (`subject`, `colour` or `attribute:colour`) keyed by the resolved edit kinds of `kinds`.

    A name must be one of `captions.negative_kinds` and its weight > 0; kinds left out weigh 1.
    """
    resolved = {}
    for name, weight in weights.items():
        kind = name if name == "subject" or name.startswith("attribute:") else f"attribute:{name}"
        if kind not in kinds:
            raise ValueError(
                f"captions.negative_kind_weights: {name!r} is not in captions.negative_kinds {kinds}"
            )
        if not weight > 0:
            raise ValueError(
                f"captions.negative_kind_weights: the weight of {name!r} must be > 0, got {weight}"
            )
        resolved[kind] = float(weight)
    return resolved


def plan_group(
    bank: ConceptBank,
    kinds: list[str],
    n_negatives: int,
    rng: random.Random,
    attribute_rate: float = 1.0,
    weights: dict[str, float] | None = None,
) -> GroupPlan:
    """Draws a subject, the attributes the caption states, and `n_negatives` distinct one-slot edits.

    Attribute `a` is stated with probability min(1, attribute_rate * STATE_PROBABILITY[a]) (always when a
    planned negative edits it); a low rate gives short captions in which the subject carries most of the
    information, so a contrastive batch can only be told apart by what the subject is. `weights` (resolved
    kind -> relative weight, missing = 1) tilts which kinds the negatives edit.
    """
    subject = rng.choice(bank.subjects)
    editable = _editable_kinds(bank, subject, kinds)
    chosen = _choose_kinds(editable, n_negatives, rng, weights or {})
    stated = [
        a
        for a in subject.attributes
        if rng.random() < attribute_rate * STATE_PROBABILITY.get(a, DEFAULT_STATE_PROBABILITY)
        or f"attribute:{a}" in chosen
    ]
    spec = CaptionSpec(
        subject=subject.name, category=subject.category, attributes=_sample_values(bank, stated, rng)
    )
    edits: list[Edit] = []
    for kind in chosen:
        edit = _sample_edit(bank, spec, kind, [e for e in edits if e.kind == kind], rng)
        if edit is not None:
            edits.append(edit)
    return GroupPlan(spec=spec, edits=tuple(edits), missing=n_negatives - len(edits))


def _editable_kinds(bank: ConceptBank, subject: Subject, kinds: list[str]) -> list[str]:
    """Kinds that can change for this subject: another subject exists / the attribute has 2+ values."""
    editable = []
    for kind in kinds:
        if kind == "subject":
            if len(bank.subjects) > 1:
                editable.append(kind)
            continue
        name = kind.removeprefix("attribute:")
        if name in subject.attributes and len(bank.attributes[name]) > 1:
            editable.append(kind)
    return editable


def _choose_kinds(editable: list[str], n: int, rng: random.Random, weights: dict[str, float]) -> list[str]:
    """`n` kinds, spread over the editable kinds (a kind repeats only once all others are used).

    The order is a uniform shuffle, or with `weights` a weighted one (Efraimidis–Spirakis: kind k first with
    probability w_k / Σ w, and so on), so the first negative of a group edits kind k with that probability.
    """
    if not editable or n == 0:
        return []
    if any(weights.get(kind, 1.0) != 1.0 for kind in editable):
        keys = {kind: rng.random() ** (1.0 / weights.get(kind, 1.0)) for kind in editable}
        order = sorted(editable, key=keys.__getitem__, reverse=True)
    else:
        order = rng.sample(editable, len(editable))  # unchanged draw: datasets built before weights existed
    return [order[i % len(order)] for i in range(n)]


def _sample_values(bank: ConceptBank, stated: list[str], rng: random.Random) -> dict[str, str]:
    """A value for each stated attribute, respecting the bank's `distinct` pairs."""
    values: dict[str, str] = {}
    for name in stated:
        options = [v for v in bank.attributes[name] if not _clashes(bank, {**values, name: v})]
        values[name] = rng.choice(options or list(bank.attributes[name]))
    return values


def _clashes(bank: ConceptBank, attributes: dict[str, str]) -> bool:
    """True when two attributes of a `distinct` pair have the same value (e.g. white on white)."""
    return any(
        a in attributes and b in attributes and attributes[a] == attributes[b] for a, b in bank.distinct
    )


def _sample_edit(
    bank: ConceptBank, spec: CaptionSpec, kind: str, same_kind: list[Edit], rng: random.Random
) -> Edit | None:
    """A new value for one slot, unused by earlier edits of the same kind; None when none is left."""
    options = edit_options(bank, spec, kind, {e.value for e in same_kind})
    if not options:
        return None
    related = related_options(bank, spec, kind, options)
    prefer = PREFER_SAME_CATEGORY if kind == "subject" else PREFER_RELATED
    return make_edit(bank, spec, kind, rng.choice(related if related and rng.random() < prefer else options))


def edit_options(bank: ConceptBank, spec: CaptionSpec, kind: str, used: set[str] = frozenset()) -> list[str]:
    """The values slot `kind` of `spec` may change to, in bank order: not the current one, not in `used`,
    no `distinct` clash; for a subject swap, subjects that allow every stated attribute."""
    if kind == "subject":
        return [
            s.name
            for s in bank.subjects
            if s.name != spec.subject and s.name not in used and set(spec.attributes) <= set(s.attributes)
        ]
    name = kind.removeprefix("attribute:")
    current = spec.attributes[name]
    return [
        v
        for v in bank.attributes[name]
        if v != current and v not in used and not _clashes(bank, {**spec.attributes, name: v})
    ]


def related_options(bank: ConceptBank, spec: CaptionSpec, kind: str, options: list[str]) -> list[str]:
    """The `options` closest to the current value: co-hyponyms (same category) of the subject, antonyms of an
    attribute value (the swaps that make the hardest negatives)."""
    if kind == "subject":
        return [v for v in options if bank.subject(v).category == spec.category]
    name = kind.removeprefix("attribute:")
    return [v for v in bank.antonyms.get(name, {}).get(spec.attributes[name], ()) if v in options]


def make_edit(bank: ConceptBank, spec: CaptionSpec, kind: str, value: str) -> Edit:
    """The edit that sets slot `kind` of `spec` to `value` (a subject swap takes the new subject's category)."""
    if kind == "subject":
        new = bank.subject(value)
        return Edit(kind, value, spec.subject, spec.with_change(kind, value, category=new.category))
    return Edit(kind, value, spec.attributes[kind.removeprefix("attribute:")], spec.with_change(kind, value))


def plan_for_group(
    bank: ConceptBank,
    kinds: list[str],
    n_negatives: int,
    seed: int,
    group_id: str,
    draw: int = 0,
    attribute_rate: float = 1.0,
    weights: dict[str, float] | None = None,
) -> GroupPlan:
    """The plan of group `group_id` under run `seed`; `draw` > 0 re-draws (an LLM failed on the previous one).

    Every backend calls this, so draw 0 of a group has the same spec and edits whichever backend phrases it.
    """
    rng = random.Random(derive_seed(seed, group_id, "plan", draw))
    return plan_group(bank, kinds, n_negatives, rng, attribute_rate, weights)


@dataclass(frozen=True)
class GroupPlanner:
    """What every caption backend plans groups with: the bank, the resolved edit kinds and their weights."""

    bank: ConceptBank
    kinds: list[str]
    weights: dict[str, float]
    n_negatives: int
    attribute_rate: float

    @classmethod
    def from_config(cls, bank: ConceptBank, config: CaptionsConfig) -> GroupPlanner:
        """Resolves `captions.negative_kinds` and `negative_kind_weights` (unknown names fail, naming the key)."""
        kinds = resolve_edit_kinds(bank, config.negative_kinds)
        weights = resolve_kind_weights(kinds, config.negative_kind_weights)
        return cls(bank, kinds, weights, config.negatives_per_caption, config.attribute_rate)

    def plan(self, seed: int, group_id: str, draw: int = 0) -> GroupPlan:
        """`plan_for_group` of `group_id` with these settings."""
        return plan_for_group(
            self.bank, self.kinds, self.n_negatives, seed, group_id, draw, self.attribute_rate, self.weights
        )
