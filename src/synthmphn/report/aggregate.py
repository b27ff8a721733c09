"""The multi-task aggregate of one run (PolyGen-style): one number that weighs every task alike.

Each term's metric m is rescaled so that its chance level maps to 0 and a stated reference to 1, and the
aggregate is the mean of the rescaled terms the run has:

    aggregate = mean over terms t of (m_t − chance_t) / (reference_t − chance_t)

Chance is computed from the eval set the run measured (its counts are in eval/metrics.json): 1/n_classes
for zero-shot and the linear probe (uniform guessing), 1/n_texts for retrieval R@1 in both directions
(i2t: k/n_captions at k = 1; t2i: the mean of m_j/N over captions with m_j of the N images, = 1/n_texts),
0.5 for the two-choice compositional tests. The reference is 1.0 (a perfect score) for every term: there is
no supervised ceiling measured on these sets, so 1 is the honest stated upper end. `AGGREGATE_TERMS` is the
one place the terms are declared; `aggregate_note` prints them under every results table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

AGGREGATE = "aggregate"


@dataclass(frozen=True)
class AggregateTerm:
    """One metric of the aggregate: where its chance level comes from, and its reference (the "1")."""

    metric: str
    chance: Callable[[Mapping[str, float]], float | None]
    chance_rule: str
    reference: float = 1.0


def one_over(count: str) -> Callable[[Mapping[str, float]], float | None]:
    """Chance = 1 / the run's value of `count` (None when the run lacks it or it is not positive)."""

    def chance(flat: Mapping[str, float]) -> float | None:
        n = flat.get(count)
        return 1.0 / n if n is not None and n > 0 else None

    return chance


def constant(value: float) -> Callable[[Mapping[str, float]], float | None]:
    """Chance = a fixed value (e.g. 0.5 for a two-choice test)."""
    return lambda flat: value


AGGREGATE_TERMS: tuple[AggregateTerm, ...] = (
    AggregateTerm("zeroshot/digits/acc1", one_over("zeroshot/digits/n_classes"), "1/n_classes"),
    AggregateTerm("zeroshot/heldout/acc1", one_over("zeroshot/heldout/n_classes"), "1/n_classes"),
    AggregateTerm("zeroshot/heldout_style/acc1", one_over("zeroshot/heldout_style/n_classes"), "1/n_classes"),
    AggregateTerm("retrieval/i2t_r1", one_over("retrieval/n_texts"), "1/n_texts"),
    AggregateTerm("retrieval/t2i_r1", one_over("retrieval/n_texts"), "1/n_texts"),
    AggregateTerm("compositional/text_acc", constant(0.5), "0.5 (two choices)"),
    AggregateTerm("compositional/image_acc", constant(0.5), "0.5 (two choices)"),
    AggregateTerm("linear_probe/digits_acc", one_over("linear_probe/digits_n_classes"), "1/n_classes"),
)


def normalised_terms(flat: Mapping[str, float]) -> dict[str, float]:
    """metric -> (m − chance) / (reference − chance) for every declared term the run has a value and a
    chance level for (a term whose chance reaches its reference is skipped: it cannot be rescaled)."""
    out = {}
    for term in AGGREGATE_TERMS:
        value, chance = flat.get(term.metric), term.chance(flat)
        if value is None or chance is None or chance >= term.reference:
            continue
        out[term.metric] = (value - chance) / (term.reference - chance)
    return out


def aggregate_score(flat: Mapping[str, float]) -> float | None:
    """The aggregate (module docstring) of one run's flat numbers; None when no term is present."""
    terms = normalised_terms(flat)
    return sum(terms.values()) / len(terms) if terms else None


def aggregate_note(runs: list[Mapping[str, float]]) -> str:
    """The line under a results table: the formula and each term present in `runs` with its chance level
    (the range over runs when they differ) and reference."""
    parts = []
    for term in AGGREGATE_TERMS:
        chances = sorted(
            {round(c, 6) for flat in runs if term.metric in flat and (c := term.chance(flat)) is not None}
        )
        if not chances:
            continue
        seen = f"{chances[0]:.4g}" if len(chances) == 1 else f"{chances[0]:.4g}–{chances[-1]:.4g}"
        parts.append(f"{term.metric} (chance {term.chance_rule} = {seen}, reference {term.reference:g})")
    if not parts:
        return f"`{AGGREGATE}`: none of its terms was measured."
    return (
        f"`{AGGREGATE}` = mean over tasks of (m − chance) / (reference − chance), chance computed from each "
        f"run's eval set: {'; '.join(parts)}."
    )
