"""What the LLM backends share: prompts, reply parsing, validation, retries (transformers and openai).

We decide the content and the LLM only phrases it. A group's spec and its negatives' edits come from the
concept bank (`sampling.plan_for_group`, the same plan the grammar renders), then:

1. Base captions: the LLM is asked, with two worked examples (few-shot), to caption the spec on one line
   `Caption: ...`, rephrasing the grammar's draft of it (shown in the prompt) (a format 135M-parameter chat models follow; a JSON `{"caption": "..."}` reply is read
   too). The reply is checked: a caption, not a list or a description of the request (no `:`, braces,
   "json"/"following items"..., at most 40 words), mentions the subject once (singular or plural) and every
   stated attribute value word for word. A failure is counted by reason and retried with a new seed, up to
   `max_retries` times; then the group is re-drawn with a new spec (counted `group_redrawn`), at most
   `MAX_REDRAWS` times, after which it is dropped (`group_dropped`) and the result has fewer than `n`
   drafts (ids keep their index, so there are gaps); fewer than `SHORTFALL` of `n` kept logs a warning.
2. Hard negatives: the plan chose each negative's slot, so its old value is known. With `negative_source`
   "value" (the backends' default) the LLM picks only the new value: a value request shows the caption,
   the slot, the old value and `MAX_CHOICES` choices (the plan's value and the closest others, see
   `value_choices`) and the reply must name one (`parse_choice`; the transformers backend constrains its
   decoder to the choices); a reply naming none is retried, then the plan's value stays. The edit is then
   applied to the accepted caption programmatically (`validate.apply_slot_edit`: the one mention of the old
   value replaced, a/an fixed, "one circle" -> "three circles"), so it is one edit by construction. With
   "edit" the plan's value is used and no LLM call is made. Only where the edit cannot be applied (the old
   value is not stated exactly once, or a count edit between one and many finds no "<number> <noun>") is
   the LLM asked to rewrite the caption; "llm" (the old mode) asks it for every negative. Every negative,
   either way, must pass `validate_negative` (not identical, not a duplicate) and `validate_slot_edit` (the
   words going out are the old value, the words coming in the new value, a/an and plurals allowed, nothing
   else changed, the old value gone); a rewrite failure is retried, then the negative is dropped
   (`negative_dropped`). The mode is the config key `captions.negative_source` (copied to the backend's
   `negative_source` attribute, which tests and Python callers may also set); at its default "value" it is
   left out of the build identity, so datasets built before the key existed keep theirs.

Backends implement `complete(requests) -> list[str]` (one raw reply per request; tests monkeypatch it).
Every request carries its own seed, derived from (run seed, group id, task, index, draw, attempt).
Prompts and reply parsing live in captions/prompts.py.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from dataclasses import dataclass, field

from synthmphn.captions.base import CaptionResult
from synthmphn.captions.concepts import ConceptBank, bank_for
from synthmphn.captions.grammar import render_caption, sample_template
from synthmphn.captions.prompts import (
    LINE_PREFIX,
    base_messages,
    negative_messages,
    parse_caption,
    parse_choice,
    plain_prompt,
    value_messages,
)
from synthmphn.captions.sampling import (
    NO_EDIT_LEFT,
    Edit,
    GroupPlan,
    GroupPlanner,
    edit_options,
    make_edit,
    related_options,
)
from synthmphn.captions.validate import (
    EMPTY,
    apply_slot_edit,
    normalized,
    validate_negative,
    validate_slot_edit,
    word_tokens,
)
from synthmphn.config import CaptionsConfig
from synthmphn.data.records import CaptionDraft, CaptionSpec, NegativeCaption
from synthmphn.progress import progress
from synthmphn.seeding import derive_seed

INVALID_JSON = "invalid_json"  # no caption found in the reply (neither a `Caption:` line nor JSON)
NOT_A_CAPTION = "not_a_caption"  # a list, a description of the request, or too long
MISSING_SUBJECT = "missing_subject"
REPEATED_SUBJECT = "repeated_subject"
MISSING_ATTRIBUTE = "missing_attribute"
GROUP_REDRAWN = "group_redrawn"
GROUP_DROPPED = "group_dropped"
NEGATIVE_DROPPED = "negative_dropped"
INVALID_CHOICE = "invalid_choice"  # a value reply that names none of the choices
MAX_CHOICES = 5  # values a value request offers: the plan's and up to 4 others (the closest first)
NEGATIVE_SOURCES = ("value", "edit", "llm")
MAX_REDRAWS = 2
SHORTFALL = 0.8  # keeping fewer than this share of the asked groups logs a warning
MAX_CAPTION_WORDS = 40
META_WORDS = frozenset(
    [
        "json",
        "object",
        "caption",
        "captions",
        "item",
        "items",
        "following",
        "list",
        "subject",
        "attribute",
        "attributes",
        "value",
        "values",
    ]
)
log = logging.getLogger(__name__)


@dataclass
class LLMRequest:
    """One prompt: chat messages plus the seed and the task it belongs to (so tests can answer by task)."""

    messages: list[dict[str, str]]
    seed: int
    group_id: str
    task: str  # "base", "value" (pick a negative's new value) or "negative" (rewrite a caption)
    spec: CaptionSpec
    attempt: int = 0
    caption: str | None = None  # the base caption (negative tasks)
    edit: Edit | None = None  # the planned edit (value and negative tasks)
    choices: list[str] | None = None  # the values a value request may answer


# ----------------------------------------------------------------------------- checks


def mentions(text: str, phrase: str) -> bool:
    """True when `phrase` occurs in `text` as whole words (case and punctuation ignored)."""
    return f" {normalized(phrase)} " in f" {normalized(text)} "


def check_base(caption: str, spec: CaptionSpec, bank: ConceptBank) -> str | None:
    """None when a base caption is usable for `spec`, else the rejection reason."""
    if not normalized(caption):
        return EMPTY
    words = word_tokens(caption)
    if (
        any(mark in caption for mark in ":{}[]\n")
        or META_WORDS & set(words)
        or len(words) > MAX_CAPTION_WORDS
    ):
        return NOT_A_CAPTION
    subject = bank.subject(spec.subject)
    said = _mentions_of(words, [subject.name, subject.plural])
    if said == 0:
        return MISSING_SUBJECT
    if said > 1:
        return REPEATED_SUBJECT  # "a house ... of a photo of a house": a second object, not the planned image
    if not all(mentions(caption, value) for value in spec.attributes.values()):
        return MISSING_ATTRIBUTE
    return None


def _mentions_of(words: list[str], forms: list[str]) -> int:
    """How many separate mentions of any of `forms` `words` hold (a form inside a longer one counts once:
    "two copies of digit 5" is one mention of the forms "digit 5" and "copies of digit 5")."""
    words, count = list(words), 0
    for form in sorted({tuple(word_tokens(f)) for f in forms}, key=len, reverse=True):
        n, i = len(form), 0
        while n and i <= len(words) - n:
            if tuple(words[i : i + n]) == form:
                words[i : i + n] = [""] * n
                count += 1
                i += n
            else:
                i += 1
    return count


def slot_forms(edit: Edit, bank: ConceptBank, spec: CaptionSpec) -> list[tuple[str, str]]:
    """The (old, new) phrasings of an edit's slot: subjects singular and plural; a count with its noun."""
    if edit.kind == "subject":
        old, new = bank.subject(edit.old), bank.subject(edit.value)
        return [(old.name, new.name), (old.plural, new.plural)]
    forms = [(edit.old, edit.value)]
    if edit.kind == "attribute:count":
        noun = bank.subject(spec.subject)
        nouns = {word: noun.name if word == "one" else noun.plural for word in (edit.old, edit.value)}
        forms.append((f"{edit.old} {nouns[edit.old]}", f"{edit.value} {nouns[edit.value]}"))
    return forms


def check_negative(
    caption: str, negative: str, edit: Edit, bank: ConceptBank, seen: list[str], spec: CaptionSpec
) -> str | None:
    """None when `negative` is `caption` with exactly the edit's slot changed (see `validate_slot_edit`)."""
    reason = validate_negative(caption, negative, seen)
    if reason is not None:
        return reason
    return validate_slot_edit(caption, negative, slot_forms(edit, bank, spec))


def programmatic_negative(caption: str, edit: Edit, bank: ConceptBank, spec: CaptionSpec) -> str | None:
    """The negative made by replacing the slot's old value in `caption`, or None when the old value is not
    stated exactly once. A count edit between one and many replaces the number with its noun ("one circle"
    -> "three circles"), so the caption must say them side by side."""
    forms = slot_forms(edit, bank, spec)
    if edit.kind == "attribute:count":
        return apply_slot_edit(
            caption, forms[1:] if (edit.old == "one") != (edit.value == "one") else forms[:1]
        )
    return apply_slot_edit(caption, forms if edit.kind == "subject" else forms[:1])


def value_choices(bank: ConceptBank, plan: GroupPlan, rng: random.Random) -> list[list[str]]:
    """Per planned edit, the values a value request offers: the plan's own value and up to
    `MAX_CHOICES - 1` others, the closest (co-hyponyms, antonyms) first, then random ones, in a random order.
    Edits of the same kind get disjoint choices and never another's planned value, so two negatives of a
    group cannot pick the same one."""
    offered: list[list[str]] = []
    taken: dict[str, set[str]] = {}
    for edit in plan.edits:
        used = taken.setdefault(edit.kind, {e.value for e in plan.edits if e.kind == edit.kind})
        pool = edit_options(bank, plan.spec, edit.kind, used)
        related = related_options(bank, plan.spec, edit.kind, pool)
        others = [v for v in pool if v not in related]
        extra = (rng.sample(related, len(related)) + rng.sample(others, len(others)))[: MAX_CHOICES - 1]
        used.update(extra)
        choices = [edit.value, *extra]
        offered.append(rng.sample(choices, len(choices)))
    return offered


# ----------------------------------------------------------------------------- the shared driver


@dataclass
class _BaseJob:
    group_id: str
    plan: GroupPlan
    draw: int = 0
    attempt: int = 0


@dataclass
class _NegativeJob:
    group_id: str
    index: int
    edit: Edit
    caption: str
    attempt: int = 0
    choices: list[str] = field(default_factory=list)


@dataclass
class _Accepted:
    caption: str
    plan: GroupPlan
    negatives: dict[int, NegativeCaption] = field(default_factory=dict)


def no_caption_message(config: CaptionsConfig, n: int, rejections: Counter[str]) -> str:
    """Why an LLM backend produced no group at all: the backend, the model and every rejection count."""
    counts = ", ".join(f"{reason} {count}" for reason, count in sorted(rejections.items())) or "none"
    return (
        f"captions.backend={config.backend!r} (captions.model={config.model!r}) gave no valid caption for "
        f"any of {n} groups (rejections: {counts}); check that the model follows the prompt, or raise "
        "captions.max_retries"
    )


class LLMBackend:
    """Caption backend driven by an LLM; subclasses implement `complete` (see the module doc)."""

    def __init__(self, config: CaptionsConfig) -> None:
        self.config = config
        self.bank = bank_for(config)
        self.planner = GroupPlanner.from_config(self.bank, config)
        self.negative_source = config.negative_source  # "value" / "edit" / "llm" (see the module doc)

    @property
    def chunk_size(self) -> int:
        """How many requests go to `complete` at once (a progress-bar step)."""
        return self.config.batch_size

    def complete(self, requests: list[LLMRequest]) -> list[str]:
        """One raw model reply per request, in order; deterministic for the requests' seeds."""
        raise NotImplementedError

    def plan(self, seed: int, group_id: str, draw: int = 0) -> GroupPlan:
        """The spec and edits of one group; draw 0 is the plan the grammar backend renders."""
        return self.planner.plan(seed, group_id, draw)

    def generate(self, n: int, seed: int, prefix: str = "g") -> CaptionResult:
        """Writes up to `n` groups (ids f"{prefix}{i:07d}"); rejections count every failed reply by reason."""
        rejections: Counter[str] = Counter()
        accepted = self._base_captions([f"{prefix}{i:07d}" for i in range(n)], seed, rejections)
        self._negatives(accepted, seed, rejections)
        for group in accepted.values():
            if group.plan.missing:
                rejections[NO_EDIT_LEFT] += group.plan.missing
        if len(accepted) < SHORTFALL * n:
            log.warning(
                "%s captions: kept %d of %d groups asked (rejections: %s); the model may be too weak "
                "for the prompts, see captions.max_retries / captions.model",
                type(self).__name__,
                len(accepted),
                n,
                dict(rejections.most_common(4)),
            )
        drafts = [
            CaptionDraft(
                id=gid,
                caption=a.caption,
                spec=a.plan.spec,
                negatives=[a.negatives[j] for j in sorted(a.negatives)],
            )
            for gid, a in sorted(accepted.items())
        ]
        if n > 0 and not drafts:
            raise ValueError(no_caption_message(self.config, n, rejections))
        return CaptionResult(drafts=drafts, rejections=rejections)

    def _complete_all(self, requests: list[LLMRequest], desc: str) -> list[str]:
        """`complete` over chunks of `chunk_size`, with a progress bar."""
        replies: list[str] = []
        with progress(total=len(requests), desc=desc, unit="req") as bar:
            for start in range(0, len(requests), self.chunk_size):
                chunk = requests[start : start + self.chunk_size]
                out = self.complete(chunk)
                if len(out) != len(chunk):
                    raise RuntimeError(
                        f"{type(self).__name__}.complete returned {len(out)} replies "
                        f"for {len(chunk)} requests"
                    )
                replies.extend(out)
                bar.update(len(chunk))
        return replies

    def _base_captions(self, ids: list[str], seed: int, rejections: Counter[str]) -> dict[str, _Accepted]:
        """Rounds of base-caption requests until every group is accepted or dropped."""
        jobs = {gid: _BaseJob(gid, self.plan(seed, gid)) for gid in ids}
        accepted: dict[str, _Accepted] = {}
        while jobs:
            pending = [jobs[gid] for gid in sorted(jobs)]
            replies = self._complete_all([self._base_request(job, seed) for job in pending], "captions")
            for job, reply in zip(pending, replies, strict=True):
                caption = parse_caption(reply)
                reason = INVALID_JSON if caption is None else check_base(caption, job.plan.spec, self.bank)
                if reason is None:
                    accepted[job.group_id] = _Accepted(caption, job.plan)
                    del jobs[job.group_id]
                else:
                    rejections[reason] += 1
                    self._retry_base(job, seed, jobs, rejections)
        return accepted

    def _retry_base(
        self, job: _BaseJob, seed: int, jobs: dict[str, _BaseJob], rejections: Counter[str]
    ) -> None:
        """Next attempt; past `max_retries` a new spec; past `MAX_REDRAWS` the group is dropped."""
        job.attempt += 1
        if job.attempt <= self.config.max_retries:
            return
        job.draw, job.attempt = job.draw + 1, 0
        if job.draw > MAX_REDRAWS:
            rejections[GROUP_DROPPED] += 1
            del jobs[job.group_id]
            return
        rejections[GROUP_REDRAWN] += 1
        job.plan = self.plan(seed, job.group_id, job.draw)

    def _base_request(self, job: _BaseJob, seed: int) -> LLMRequest:
        template = sample_template(random.Random(derive_seed(seed, job.group_id, "draft", job.draw)))
        draft = render_caption(job.plan.spec, template, self.bank)
        return LLMRequest(
            messages=base_messages(job.plan.spec, self.bank, draft),
            seed=derive_seed(seed, job.group_id, "base", job.draw, job.attempt),
            group_id=job.group_id,
            task="base",
            spec=job.plan.spec,
            attempt=job.attempt,
        )

    def _negatives(self, accepted: dict[str, _Accepted], seed: int, rejections: Counter[str]) -> None:
        """Rounds of negative requests; each planned edit is accepted or dropped after `max_retries`."""
        jobs = [
            _NegativeJob(gid, j, edit, a.caption)
            for gid, a in sorted(accepted.items())
            for j, edit in enumerate(a.plan.edits)
        ]
        if self.negative_source not in NEGATIVE_SOURCES:
            raise ValueError(
                f"negative_source {self.negative_source!r}; known: {', '.join(NEGATIVE_SOURCES)}"
            )
        if self.negative_source == "value":
            self._choose_values(jobs, accepted, seed, rejections)
        if self.negative_source != "llm":
            jobs = [job for job in jobs if not self._edit_negative(job, accepted[job.group_id])]
        while jobs:
            replies = self._complete_all([self._negative_request(job, seed) for job in jobs], "negatives")
            retry = []
            for job, reply in zip(jobs, replies, strict=True):
                reason = self._accept_negative(job, parse_caption(reply), accepted[job.group_id])
                if reason is None:
                    continue
                rejections[reason] += 1
                job.attempt += 1
                if job.attempt <= self.config.max_retries:
                    retry.append(job)
                else:
                    rejections[NEGATIVE_DROPPED] += 1
            jobs = retry

    def _choose_values(
        self, jobs: list[_NegativeJob], accepted: dict[str, _Accepted], seed: int, rejections: Counter[str]
    ) -> None:
        """Rounds of value requests: each job's edit takes the value the LLM picks from its choices; a reply
        naming none is retried, and after `max_retries` the plan's own value stays."""
        for gid in {job.group_id for job in jobs}:
            offered = value_choices(
                self.bank, accepted[gid].plan, random.Random(derive_seed(seed, gid, "choices"))
            )
            for job in jobs:
                if job.group_id == gid:
                    job.choices = offered[job.index]
        pending = [job for job in jobs if len(job.choices) > 1]
        while pending:
            replies = self._complete_all([self._value_request(job, seed) for job in pending], "values")
            retry = []
            for job, reply in zip(pending, replies, strict=True):
                value = parse_choice(reply, job.choices)
                if value is not None:
                    job.edit = make_edit(self.bank, accepted[job.group_id].plan.spec, job.edit.kind, value)
                    continue
                rejections[INVALID_CHOICE] += 1
                job.attempt += 1
                if job.attempt <= self.config.max_retries:
                    retry.append(job)
            pending = retry
        for job in jobs:
            job.attempt = 0  # the rewrite requests that may follow count their own attempts

    def _value_request(self, job: _NegativeJob, seed: int) -> LLMRequest:
        return LLMRequest(
            messages=value_messages(job.caption, job.edit, job.choices),
            seed=derive_seed(seed, job.group_id, "value", job.index, job.attempt),
            group_id=job.group_id,
            task="value",
            spec=job.edit.spec,
            attempt=job.attempt,
            caption=job.caption,
            edit=job.edit,
            choices=job.choices,
        )

    def _edit_negative(self, job: _NegativeJob, group: _Accepted) -> bool:
        """Makes the negative by editing the caption (no LLM call); True when it was made and kept."""
        text = programmatic_negative(job.caption, job.edit, self.bank, group.plan.spec)
        return text is not None and self._accept_negative(job, text, group) is None

    def _accept_negative(self, job: _NegativeJob, text: str | None, group: _Accepted) -> str | None:
        """Checks one reply and stores it in its group when valid; returns the rejection reason or None."""
        if text is None:
            return INVALID_JSON
        seen = [n.text for n in group.negatives.values()]
        reason = check_negative(job.caption, text, job.edit, self.bank, seen, group.plan.spec)
        if reason is None:
            group.negatives[job.index] = NegativeCaption(text=text, kind=job.edit.kind, spec=job.edit.spec)
        return reason

    def _negative_request(self, job: _NegativeJob, seed: int) -> LLMRequest:
        return LLMRequest(
            messages=negative_messages(job.caption, job.edit),
            seed=derive_seed(seed, job.group_id, "negative", job.index, job.attempt),
            group_id=job.group_id,
            task="negative",
            spec=job.edit.spec,
            attempt=job.attempt,
            caption=job.caption,
            edit=job.edit,
        )


__all__ = [
    "LINE_PREFIX",
    "base_messages",
    "negative_messages",
    "parse_caption",
    "plain_prompt",
]
