"""The embedded grammar backend: captions and hard negatives from templates, no model needed.

A group draws a plan (spec + one-slot edits, see `sampling.py`) and a `Template` (opener, noun-phrase style,
adjective order, position/background phrasing, clause order). The caption and every negative are rendered
with the same template, so a negative differs from its caption in exactly one slot and its word-level diff
is one contiguous edit, e.g.

    a photo of a small red striped circle at the top left on a blue sky background
    a photo of a small green striped circle at the top left on a blue sky background   (attribute:colour)

Count keeps grammar right (plural nouns) by always sitting right before the noun: when a caption states a
count, adjectives follow the noun ("two circles of small size in red", "one circle, small and red"), so
"one circle" -> "three circles" is one contiguous edit. Every output still passes `validate_negative`; a
negative that would not is dropped and counted (it never happens with the built-in bank; tests check).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from synthmphn.captions.base import CAPTION_BACKENDS, CaptionResult
from synthmphn.captions.concepts import ConceptBank, bank_for
from synthmphn.captions.sampling import (
    NO_EDIT_LEFT,
    GroupPlan,
    GroupPlanner,
)
from synthmphn.captions.validate import validate_negative
from synthmphn.config import CaptionsConfig
from synthmphn.data.records import CaptionDraft, CaptionSpec, NegativeCaption
from synthmphn.seeding import derive_seed

OPENERS = (
    "",
    "",
    "a photo of",
    "an image of",
    "a picture of",
    "a drawing of",
    "a rendering of",
    "a photo showing",
)
NOUN_STYLES = ("pre", "pre", "phrases", "list")
ADJECTIVE_ORDERS = (("size", "colour", "texture"), ("size", "texture", "colour"))
POSITION_FRAMES = ("at the {}", "placed at the {}", "in the {} of the frame")
BACKGROUND_FRAMES = ("on {} background", "against {} background", "with {} background")
# Post-nominal phrasing of the adjective attributes in the "phrases" style (no number agreement needed).
PHRASES = {"size": "of {} size", "colour": "in {}", "texture": "with {} texture"}
# Attributes that are not adjectives of the noun: they have their own phrase or sit before the noun.
NON_ADJECTIVES = ("count", "position", "background")
SINGULAR_COUNTS = ("one", "1", "a", "a single", "single")


@dataclass(frozen=True)
class Template:
    """How one group is phrased; its caption and all its negatives share it.

    `noun_style` is "pre" (a small red circle), "phrases" (a circle of small size in red) or "list"
    (a circle, small and red).
    """

    opener: str
    noun_style: str
    adjective_order: tuple[str, ...]
    position_frame: str
    background_frame: str
    position_first: bool
    separator: str


def sample_template(rng: random.Random) -> Template:
    """Draws one phrasing for a group."""
    return Template(
        opener=rng.choice(OPENERS),
        noun_style=rng.choice(NOUN_STYLES),
        adjective_order=rng.choice(ADJECTIVE_ORDERS),
        position_frame=rng.choice(POSITION_FRAMES),
        background_frame=rng.choice(BACKGROUND_FRAMES),
        position_first=rng.random() < 0.5,
        separator=rng.choice((" ", ", ")),
    )


def article(word: str) -> str:
    """'a' or 'an' for the word that follows."""
    return "an" if word[:1].lower() in "aeiou" and not word.lower().startswith(("one", "uni", "use")) else "a"


def join_and(words: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def render_caption(spec: CaptionSpec, template: Template, bank: ConceptBank) -> str:
    """The caption text of `spec` phrased by `template`; states exactly the spec's subject and attributes."""
    head = _noun_phrase(spec, template, bank)
    if template.opener:
        head = f"{template.opener} {head}"
    separator = ", " if _effective_style(spec, template) == "list" else template.separator
    return separator.join([head, *_tail(spec, template)])


def _adjectives(spec: CaptionSpec, template: Template) -> list[str]:
    """Names of the stated adjective attributes, in the template's order (others after, in spec order)."""
    names = [a for a in spec.attributes if a not in NON_ADJECTIVES]
    order = {name: i for i, name in enumerate(template.adjective_order)}
    return sorted(names, key=lambda a: order.get(a, len(order)))


def _effective_style(spec: CaptionSpec, template: Template) -> str:
    """The noun style actually used: a stated count forces adjectives after the noun (see module doc)."""
    adjectives = _adjectives(spec, template)
    style = template.noun_style
    if style == "pre" and "count" in spec.attributes and adjectives:
        style = "phrases"
    if style == "phrases" and any(a not in PHRASES for a in adjectives):
        style = "list"
    return style if adjectives else "pre"


def _noun_phrase(spec: CaptionSpec, template: Template, bank: ConceptBank) -> str:
    """Determiner or count, noun and adjectives, e.g. 'two circles of small size in red'."""
    subject = bank.subject(spec.subject)
    count = spec.attributes.get("count")
    noun = subject.plural if count is not None and count not in SINGULAR_COUNTS else subject.name
    adjectives = [spec.attributes[a] for a in _adjectives(spec, template)]
    style = _effective_style(spec, template)
    if style == "pre":
        words = " ".join([*adjectives, noun])
        return f"{count or article(words)} {words}"
    determiner = count or article(noun)
    if style == "list":
        return f"{determiner} {noun}, {join_and(adjectives)}"
    phrases = [_phrase(a, spec.attributes[a]) for a in _adjectives(spec, template)]
    return " ".join([determiner, noun, *phrases])


def _phrase(name: str, value: str) -> str:
    """Post-nominal phrase of one adjective attribute ('in red', 'with a striped texture')."""
    if name == "texture":
        return PHRASES[name].format(f"{article(value)} {value}")
    return PHRASES[name].format(value)


def _tail(spec: CaptionSpec, template: Template) -> list[str]:
    """Position and background clauses in the template's order."""
    parts = []
    if "position" in spec.attributes:
        parts.append(template.position_frame.format(spec.attributes["position"]))
    if "background" in spec.attributes:
        value = spec.attributes["background"]
        parts.append(template.background_frame.format(f"{article(value)} {value}"))
    return parts if template.position_first else parts[::-1]


@CAPTION_BACKENDS.register("grammar")
class GrammarBackend:
    """Template captions with one-slot hard negatives; deterministic per (seed, group id)."""

    def __init__(self, config: CaptionsConfig) -> None:
        self.config = config
        self.bank = bank_for(config)
        self.planner = GroupPlanner.from_config(self.bank, config)

    def plan(self, seed: int, group_id: str, draw: int = 0) -> GroupPlan:
        """The spec and edits of one group (shared with the LLM backends)."""
        return self.planner.plan(seed, group_id, draw)

    def generate(self, n: int, seed: int, prefix: str = "g") -> CaptionResult:
        """Writes `n` groups with ids f"{prefix}{i:07d}"; rejections count negatives that could not be made."""
        rejections: Counter[str] = Counter()
        drafts = [self.draft(seed, f"{prefix}{i:07d}", rejections) for i in range(n)]
        return CaptionResult(drafts=drafts, rejections=rejections)

    def draft(self, seed: int, group_id: str, rejections: Counter[str]) -> CaptionDraft:
        """One group: its caption and negatives rendered with one template."""
        plan = self.plan(seed, group_id)
        template = sample_template(random.Random(derive_seed(seed, group_id, "template")))
        caption = render_caption(plan.spec, template, self.bank)
        negatives: list[NegativeCaption] = []
        for edit in plan.edits:
            text = render_caption(edit.spec, template, self.bank)
            reason = validate_negative(caption, text, [n.text for n in negatives])
            if reason is not None:
                rejections[reason] += 1
                continue
            negatives.append(NegativeCaption(text=text, kind=edit.kind, spec=edit.spec))
        if plan.missing:
            rejections[NO_EDIT_LEFT] += plan.missing
        return CaptionDraft(id=group_id, caption=caption, spec=plan.spec, negatives=negatives)
