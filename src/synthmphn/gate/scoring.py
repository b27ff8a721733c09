"""How well an image matches its own caption and its hard-negative partner, by a reference model.

Two numbers per image:

- `own`: p(captioned subject | image), the softmax of the reference's logits over its candidate classes
  (the embedded gate reference: every subject it knows and `nothing`, see `gate.reference`; an open_clip
  model: the dataset's class names, zero-shot with the caption-like templates).
- `margin`: for an image of a hard-negative group, min over its partner captions (a base image's partners are
  the group's negatives, a negative image's partner is the base caption) of p(own) - p(partner), the
  softmax over the two captions' scores, in [-1, 1]. An open_clip model scores the two full caption texts
  (so attribute edits count); the embedded reference judges subjects only, so it scores a partner only when
  the two captions name different subjects and abstains (None) on attribute edits, except those of the
  attributes judged by `gate.attributes` (`gate.attributes`: colour, count), which also enter `own` as
  min(p(subject), p(captioned value)).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from synthmphn.analyse.embedded import EmbeddedReference
from synthmphn.data.records import CaptionSpec
from synthmphn.eval.reference import EMBEDDED, ClipReference, Reference, load_reference
from synthmphn.gate.attributes import caption_value
from synthmphn.gate.reference import gate_reference
from synthmphn.images.procedural import canonical_subject


@dataclass(frozen=True)
class Caption:
    """A caption an image is scored against: its text and structured spec (None for free text)."""

    text: str
    spec: CaptionSpec | None


@dataclass(frozen=True)
class Score:
    """An image's match to its own caption (`own`) and its worst margin over partner captions."""

    own: float
    margin: float | None  # None: no partner, or none the reference can judge


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax (stable)."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def subject_of(caption: Caption) -> str:
    """The subject a caption names; ValueError for a caption without spec (the gate needs one)."""
    if caption.spec is None:
        raise ValueError(f"caption {caption.text!r} has no spec: the gate needs the subject it names")
    return caption.spec.subject


class GateScorer:
    """Scores images against captions with a `Reference` over fixed candidate classes, and optionally
    attribute judges (`gate.attributes`: attribute -> a reference over that attribute's values) (module doc)."""

    def __init__(
        self, reference: Reference, classnames: Sequence[str], judges: Mapping[str, Reference] | None = None
    ) -> None:
        self.reference = reference
        self.classnames = list(classnames)
        self.judges = dict(judges or {})
        self._column = {_key(name): i for i, name in enumerate(self.classnames)}

    def column(self, subject: str) -> int:
        """The candidate column of a subject; ValueError when the reference's classes do not hold it."""
        found = self._column.get(_key(subject))
        if found is None:
            raise ValueError(
                f"the gate's reference {self.reference.name!r} cannot judge subject {subject!r} (its classes: "
                f"{', '.join(self.classnames[:8])}{', ...' if len(self.classnames) > 8 else ''}); set gate.model "
                "to an open_clip model '<name>:<pretrained>'"
            )
        return found

    def score(
        self, images: Sequence[Image.Image], own: Sequence[Caption], partners: Sequence[Sequence[Caption]]
    ) -> list[Score]:
        """One Score per image (`own[i]` its caption, `partners[i]` the captions it must beat)."""
        if not images:
            return []
        logits, features = self.reference.judge(list(images), self.classnames)
        probs = softmax(np.asarray(logits, dtype=np.float64))
        judged = {a: self._judge_logits(a, images) for a in self.judges}
        own_p = []
        for i, caption in enumerate(own):
            p = float(probs[i, self.column(subject_of(caption))])
            for attribute, (values, attr_logits) in judged.items():
                value = caption_value(attribute, caption.spec, values)
                if value is not None:
                    p = min(p, float(softmax(attr_logits[i : i + 1])[0, values.index(value)]))
            own_p.append(p)
        margins = self._margins(np.asarray(logits, np.float64), np.asarray(features), own, partners, judged)
        return [Score(p, m) for p, m in zip(own_p, margins, strict=True)]

    def _judge_logits(self, attribute: str, images: Sequence[Image.Image]) -> tuple[list[str], np.ndarray]:
        """(the judge's values, its logits over them [N, V]) for the images."""
        judge = self.judges[attribute]
        values = list(judge.subjects)  # type: ignore[attr-defined]
        return values, np.asarray(judge.judge(list(images), values)[0], dtype=np.float64)

    def _margins(
        self,
        logits: np.ndarray,
        features: np.ndarray,
        own: Sequence[Caption],
        partners: Sequence[Sequence[Caption]],
        judged: Mapping[str, tuple[list[str], np.ndarray]],
    ) -> list[float | None]:
        """min over partners of p(own) - p(partner) per image (None where nothing is judged)."""
        if isinstance(self.reference, ClipReference):
            return self._text_margins(features, own, partners)
        out: list[float | None] = []
        for i, (mine, others) in enumerate(zip(own, partners, strict=True)):
            pairs = []
            for other in others:
                if _key(subject_of(other)) != _key(subject_of(mine)):
                    pairs.append(
                        _pair(
                            logits[i, self.column(subject_of(mine))],
                            logits[i, self.column(subject_of(other))],
                        )
                    )
                    continue
                for attribute, (values, attr_logits) in judged.items():
                    a, b = (caption_value(attribute, c.spec, values) for c in (mine, other))
                    if a is not None and b is not None and a != b:
                        pairs.append(_pair(attr_logits[i, values.index(a)], attr_logits[i, values.index(b)]))
            out.append(min(pairs, default=None))
        return out

    def _text_margins(
        self, features: np.ndarray, own: Sequence[Caption], partners: Sequence[Sequence[Caption]]
    ) -> list[float | None]:
        """Margins from the open_clip model's cosine with the full caption texts (100 x cosine logits)."""
        texts = sorted({c.text for c in own} | {p.text for ps in partners for p in ps})
        encoder = self.reference.encoder  # type: ignore[attr-defined]
        text_features = np.asarray(encoder.encode_texts(texts).float().cpu().numpy())
        row = {t: i for i, t in enumerate(texts)}
        sims = 100.0 * features @ text_features.T
        return [
            min((_pair(sims[i, row[mine.text]], sims[i, row[p.text]]) for p in others), default=None)
            for i, (mine, others) in enumerate(zip(own, partners, strict=True))
        ]


def _pair(a: float, b: float) -> float:
    """p(a) - p(b) of the two-way softmax of logits a, b: tanh((a - b) / 2)."""
    return float(np.tanh((a - b) / 2.0))


def _key(subject: str) -> str:
    """Subjects compare by their canonical procedural name where there is one ('t-shirt' = 't shirt')."""
    return canonical_subject(subject) or subject


def candidate_classes(reference: Reference, dataset_classes: Sequence[str]) -> list[str]:
    """The classes the gate's softmax runs over: every subject the embedded reference knows (so a look-alike
    outside the dataset's classes still takes the probability away), else the dataset's class names."""
    if isinstance(reference, EmbeddedReference):
        return list(reference.subjects)
    return list(dataset_classes)


def load_gate_reference(model: str, device: str = "cpu", batch_size: int = 256) -> Reference:
    """`gate.model`: "embedded" (the embedded reference with a `nothing` class, `gate.reference`) or an
    open_clip model / checkpoint file (`eval.reference.load_reference`)."""
    if model == EMBEDDED:
        return gate_reference()
    return load_reference(model, device, batch_size)
