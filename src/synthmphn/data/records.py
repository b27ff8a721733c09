"""The group record: the unit of a SynthMPHN dataset (SPEC §1), shared by every stage.

A group is one base caption, its hard-negative captions, and images for each. Every image keeps
the generator that drew it and its seed, so it can be regenerated and results sliced by generator.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

ATTRIBUTE_NAMES = ("colour", "size", "position", "count", "texture", "background")


class CaptionSpec(BaseModel):
    """Structured content of a caption: what a procedural renderer draws and what a negative edits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    subject: str
    category: str
    attributes: dict[str, str] = Field(default_factory=dict)

    def with_change(self, kind: str, value: str, category: str | None = None) -> CaptionSpec:
        """A copy with one slot changed: kind is 'subject' or 'attribute:<name>'."""
        if kind == "subject":
            return CaptionSpec(
                subject=value, category=category or self.category, attributes=dict(self.attributes)
            )
        name = kind.removeprefix("attribute:")
        return CaptionSpec(
            subject=self.subject, category=self.category, attributes={**self.attributes, name: value}
        )


class ImageRecord(BaseModel):
    """One rendered image: the sample key it is stored under, its generator and seed, and, when its
    generator's profile (`images.profiles`) made it fail, the failure mode and what it really shows.

    `weight` is set by `synthmphn gate` (action `downweight`) on an image it judged failed.
    `failure`/`drawn`/`weight` are written only when set, so shards of faithful generators stay byte-identical to
    (and readable by) readers that predate them.
    """

    model_config = ConfigDict(extra="forbid")

    key: str  # member name inside the shard sample, e.g. "base.0.png" or "neg0.2.png"
    generator: str
    seed: int
    failure: str | None = None  # omission | count | binding | swap | small (images.profiles.FAILURE_MODES)
    drawn: dict[str, str] | None = (
        None  # the slots really drawn where they differ, e.g. {"subject": "digit 7"}
    )
    weight: float | None = None  # the gate's down-weight of an image it judged failed (None: 1)

    @model_serializer(mode="wrap")
    def _omit_unset(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        for name in ("failure", "drawn", "weight"):
            if data.get(name) is None:
                data.pop(name, None)
        return data


class NegativeCaption(BaseModel):
    """A hard negative: the base caption with exactly one thing changed, and its images."""

    model_config = ConfigDict(extra="forbid")

    text: str
    kind: str  # "subject" or "attribute:<name>"
    spec: CaptionSpec | None = None
    images: list[ImageRecord] = Field(default_factory=list)


class Group(BaseModel):
    """One base caption, its hard negatives and every image of both (stored as one shard sample)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    caption: str
    spec: CaptionSpec | None = None
    images: list[ImageRecord] = Field(default_factory=list)
    negatives: list[NegativeCaption] = Field(default_factory=list)
    split: str = "train"  # train | heldout | heldout_style
    source: str = "grammar"  # caption backend that wrote it
    misaligned: bool = False  # ground truth of the recaptioning study: caption names a wrong subject


class CaptionDraft(BaseModel):
    """A caption backend's output for one group, before images exist."""

    model_config = ConfigDict(extra="forbid")

    id: str
    caption: str
    spec: CaptionSpec | None = None
    negatives: list[NegativeCaption] = Field(default_factory=list)
    misaligned: bool = False
