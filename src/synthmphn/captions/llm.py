"""What the LLM backends share: prompts, JSON parsing, validation, retries (transformers and openai).

We decide the content and the LLM only phrases it. A group's spec and its negatives' edits come from the
concept bank (`sampling.plan_for_group`, the same plan the grammar renders), then:

1. Base captions: the LLM is asked to caption the spec, answering `{"caption": "..."}`. The reply is parsed
   (first JSON object with a string `caption`, anywhere in the text) and checked: not empty, mentions the
   subject (singular or plural) and every stated attribute value word for word. A failure is counted by
   reason and retried with a new seed, up to `max_retries` times; then the group is re-drawn with a new spec
   (counted `group_redrawn`), at most `MAX_REDRAWS` times, after which it is dropped (`group_dropped`) and
   the result has fewer than `n` drafts (ids keep their index, so there are gaps).
2. Hard negatives: for each planned edit the LLM rewrites the accepted caption changing that one slot to the
   chosen value, so the negative's kind and spec are known. A reply must pass `validate_negative` (one
   contiguous word-level edit, not identical, not a duplicate) and mention the new value; a failure is
   retried like above, then the negative is dropped (`negative_dropped`). There is no grammar fallback, so
   every kept caption was written by the LLM.

Backends implement `complete(requests) -> list[str]` (one raw reply per request; tests monkeypatch it).
Every request carries its own seed, derived from (run seed, group id, task, index, draw, attempt).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field

from synthmphn.captions.base import CaptionResult
from synthmphn.captions.concepts import ConceptBank, bank_for
from synthmphn.captions.sampling import NO_EDIT_LEFT, Edit, GroupPlan, plan_for_group, resolve_edit_kinds
from synthmphn.captions.validate import EMPTY, normalized, validate_negative
from synthmphn.config import CaptionsConfig
from synthmphn.data.records import CaptionDraft, CaptionSpec, NegativeCaption
from synthmphn.progress import progress
from synthmphn.seeding import derive_seed

INVALID_JSON = "invalid_json"
MISSING_SUBJECT = "missing_subject"
MISSING_ATTRIBUTE = "missing_attribute"
MISSING_VALUE = "missing_value"
GROUP_REDRAWN = "group_redrawn"
GROUP_DROPPED = "group_dropped"
NEGATIVE_DROPPED = "negative_dropped"
MAX_REDRAWS = 2

SYSTEM_PROMPT = (
    "You write short, literal captions for images of a synthetic dataset. "
    'Reply with one JSON object, {"caption": "..."}, and nothing else.'
)
JSON_HINT = 'Reply as JSON: {"caption": "..."}'
PLAIN_PREFILL = '{"caption": "'  # ends a prompt without chat template so a base LM continues the JSON
ATTRIBUTE_HINTS = {
    "colour": "colour of the subject",
    "size": "size of the subject",
    "position": "where it is in the image",
    "count": "how many, as a word; plural noun if more than one",
    "texture": "surface pattern of the subject",
    "background": "what is behind it",
}


@dataclass
class LLMRequest:
    """One prompt: chat messages plus the seed and the task it belongs to (so tests can answer by task)."""

    messages: list[dict[str, str]]
    seed: int
    group_id: str
    task: str  # "base" or "negative"
    spec: CaptionSpec
    attempt: int = 0
    caption: str | None = None  # the base caption (negative tasks)
    edit: Edit | None = None  # the planned edit (negative tasks)


# ----------------------------------------------------------------------------- prompts


def base_messages(spec: CaptionSpec, bank: ConceptBank) -> list[dict[str, str]]:
    """Chat messages asking for a caption that states exactly `spec`."""
    facts = [f"- subject: {bank.subject(spec.subject).name}"]
    facts += [
        f"- {name} ({ATTRIBUTE_HINTS.get(name, name)}): {value}" for name, value in spec.attributes.items()
    ]
    user = (
        "Write one caption of at most 30 words for an image that shows exactly the following. "
        "Use each value word for word and add no other objects or attributes.\n"
        + "\n".join(facts)
        + "\n"
        + JSON_HINT
    )
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def negative_messages(caption: str, edit: Edit) -> list[dict[str, str]]:
    """Chat messages asking to rewrite `caption` with the one change `edit` makes."""
    what = "subject" if edit.kind == "subject" else edit.kind.removeprefix("attribute:")
    user = (
        f'Caption: "{caption}"\n'
        f'Rewrite this caption changing only the {what} from "{edit.old}" to "{edit.value}". '
        "Keep every other word exactly as it is; change a neighbouring word only where grammar "
        "forces it (a/an, plural).\n" + JSON_HINT
    )
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def plain_prompt(messages: list[dict[str, str]]) -> str:
    """A prompt for models without a chat template: the messages' text, then the start of the JSON answer."""
    return "\n\n".join(m["content"] for m in messages) + "\n" + PLAIN_PREFILL


# ----------------------------------------------------------------------------- parsing and checks


def parse_caption(text: str) -> str | None:
    """The `caption` of the first JSON object in `text` that has one (whitespace collapsed), else None."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            obj, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict) and isinstance(obj.get("caption"), str):
            return " ".join(obj["caption"].split())
    return None


def mentions(text: str, phrase: str) -> bool:
    """True when `phrase` occurs in `text` as whole words (case and punctuation ignored)."""
    return f" {normalized(phrase)} " in f" {normalized(text)} "


def check_base(caption: str, spec: CaptionSpec, bank: ConceptBank) -> str | None:
    """None when a base caption is usable for `spec`, else the rejection reason."""
    if not normalized(caption):
        return EMPTY
    subject = bank.subject(spec.subject)
    if not (mentions(caption, subject.name) or mentions(caption, subject.plural)):
        return MISSING_SUBJECT
    if not all(mentions(caption, value) for value in spec.attributes.values()):
        return MISSING_ATTRIBUTE
    return None


def check_negative(caption: str, negative: str, edit: Edit, bank: ConceptBank, seen: list[str]) -> str | None:
    """None when `negative` is a valid one-edit rewrite of `caption` stating the edit's new value."""
    reason = validate_negative(caption, negative, seen)
    if reason is not None:
        return reason
    options = [edit.value]
    if edit.kind == "subject":
        options.append(bank.subject(edit.value).plural)
    return None if any(mentions(negative, o) for o in options) else MISSING_VALUE


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
        self.kinds = resolve_edit_kinds(self.bank, config.negative_kinds)

    @property
    def chunk_size(self) -> int:
        """How many requests go to `complete` at once (a progress-bar step)."""
        return self.config.batch_size

    def complete(self, requests: list[LLMRequest]) -> list[str]:
        """One raw model reply per request, in order; deterministic for the requests' seeds."""
        raise NotImplementedError

    def plan(self, seed: int, group_id: str, draw: int = 0) -> GroupPlan:
        """The spec and edits of one group; draw 0 is the plan the grammar backend renders."""
        cfg = self.config
        return plan_for_group(
            self.bank, self.kinds, cfg.negatives_per_caption, seed, group_id, draw, cfg.attribute_rate
        )

    def generate(self, n: int, seed: int, prefix: str = "g") -> CaptionResult:
        """Writes up to `n` groups (ids f"{prefix}{i:07d}"); rejections count every failed reply by reason."""
        rejections: Counter[str] = Counter()
        accepted = self._base_captions([f"{prefix}{i:07d}" for i in range(n)], seed, rejections)
        self._negatives(accepted, seed, rejections)
        for group in accepted.values():
            if group.plan.missing:
                rejections[NO_EDIT_LEFT] += group.plan.missing
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
        return LLMRequest(
            messages=base_messages(job.plan.spec, self.bank),
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

    def _accept_negative(self, job: _NegativeJob, text: str | None, group: _Accepted) -> str | None:
        """Checks one reply and stores it in its group when valid; returns the rejection reason or None."""
        if text is None:
            return INVALID_JSON
        seen = [n.text for n in group.negatives.values()]
        reason = check_negative(job.caption, text, job.edit, self.bank, seen)
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
