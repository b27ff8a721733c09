"""Held-out synthetic groups as eval data: class lists, labelled images and caption/image pairs.

Splits written by `build`: `heldout` (unseen captions drawn by every member of `splits.reference_pool`, a
fixed list of faithful training-like styles independent of the run's images.pool / strategy, so every variant
of a grid reads the same images: a "shared" set; with `reference_pool: null`, by the run's own pool:
"in-domain", see eval/sets.py) and `heldout_style` (unseen captions drawn only by the held-out style, shared). The zero-shot class of
an image is the subject of the caption it was drawn from; the class names are the display names from the
dataset's `classes.json` (falling back to the subjects seen in the splits).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image

from synthmphn.data.records import Group
from synthmphn.data.store import GroupStore
from synthmphn.eval.datasets import CAPTION_TEMPLATES, LabelledImages, LazyImages

HELDOUT = "heldout"
HELDOUT_STYLE = "heldout_style"


class GroupSource(Protocol):
    """What eval reads from a split (`synthmphn.data.store.GroupStore` satisfies it)."""

    groups: list[Group]

    def __len__(self) -> int: ...

    def image(self, i: int, key: str) -> Image.Image: ...


def open_split(dataset_dir: Path | None, split: str) -> GroupSource:
    """The groups of one split of a built dataset; errors say what is missing and how to make it."""
    if dataset_dir is None:
        raise FileNotFoundError(f"no dataset folder to read split {split!r} from")
    if not Path(dataset_dir).is_dir():
        raise FileNotFoundError(f"{dataset_dir}: dataset folder not found (run `synthmphn build` first)")
    store = GroupStore(Path(dataset_dir), split)
    if len(store) == 0:
        raise ValueError(
            f"{dataset_dir}: split {split!r} has no groups (set splits.{split}_groups > 0 and rebuild)"
        )
    return store


@dataclass(frozen=True)
class ClassInfo:
    """One subject: the name it has in specs, its category and the name used in prompts."""

    subject: str
    category: str
    name: str


def _class_from(entry: Any) -> ClassInfo | None:
    if isinstance(entry, str):
        return ClassInfo(entry, "", entry)
    if isinstance(entry, dict):
        # build writes {index, name, category, display}: `name` is the subject, `display` the prompt name;
        # a file keyed by `subject` may use `name` for the display name instead.
        subject = entry.get("subject") or entry.get("name") or entry.get("id")
        if not subject:
            return None
        display = (
            entry.get("display")
            or entry.get("display_name")
            or (entry.get("name") if "subject" in entry else None)
        )
        return ClassInfo(str(subject), str(entry.get("category", "")), str(display or subject))
    return None


def read_classes(dataset_dir: Path | None, sources: Sequence[GroupSource] = ()) -> list[ClassInfo]:
    """Subjects from `classes.json` (a list of dicts or names, or a dict keyed by subject), else from specs.

    Subjects seen in `sources` but missing from the file are appended, so every image has a class.
    """
    classes: list[ClassInfo] = []
    path = Path(dataset_dir) / "classes.json" if dataset_dir is not None else None
    if path is not None and path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict):
            data = data.get(
                "classes", [{"subject": k, **(v if isinstance(v, dict) else {})} for k, v in data.items()]
            )
        classes = [c for c in (_class_from(e) for e in data) if c is not None]
    known = {c.subject for c in classes}
    for source in sources:
        for group in source.groups:
            for spec in [group.spec, *(n.spec for n in group.negatives)]:
                if spec is not None and spec.subject not in known:
                    known.add(spec.subject)
                    classes.append(ClassInfo(spec.subject, spec.category, spec.subject))
    return classes


@dataclass
class SplitImages:
    """Every image of a split that has a known subject, with its label, generator and group."""

    labelled: LabelledImages
    generators: list[str]
    group_index: np.ndarray


def split_images(
    source: GroupSource, classes: list[ClassInfo], name: str, with_negatives: bool = True
) -> SplitImages:
    """Base images labelled by the group's subject, plus (optionally) each negative's images labelled by the
    negative's subject. Images whose caption has no spec are skipped (their subject is unknown)."""
    index = {c.subject: i for i, c in enumerate(classes)}
    refs: list[tuple[int, str]] = []
    labels: list[int] = []
    generators: list[str] = []
    for gi, group in enumerate(source.groups):
        parts = [(group.spec, group.images)]
        if with_negatives:
            parts += [(neg.spec, neg.images) for neg in group.negatives]
        for spec, images in parts:
            if spec is None or spec.subject not in index:
                continue
            for record in images:
                refs.append((gi, record.key))
                labels.append(index[spec.subject])
                generators.append(record.generator)
    if not refs:
        raise ValueError(f"{name}: no images with a known subject")

    group_index = np.array([r[0] for r in refs])
    labelled = LabelledImages(
        name,
        store_images(source, refs),
        np.array(labels),
        [c.name for c in classes],
        list(CAPTION_TEMPLATES),
        groups=group_index,
    )
    return SplitImages(labelled, generators, group_index)


def store_images(source: GroupSource, refs: Sequence[tuple[int, str]]) -> LazyImages:
    """Lazy RGB images of a split, addressed by (group index, image key)."""

    def load(ref: object) -> Image.Image:
        gi, key = ref  # type: ignore[misc]
        return source.image(gi, key).convert("RGB")

    return LazyImages(list(refs), load)


def split_subject_images(dataset_dir: Path | None, split: str) -> LabelledImages:
    """A split's images, base AND hard-negative, as a classification set over every subject of the dataset.

    Each image is labelled by the subject of the caption it was drawn from (a subject-swap negative's
    images by the swapped subject). Negatives are included on purpose: their images are valid drawings of
    their own captions, and subject swaps add images of subjects the base captions of a small split rarely
    name. They share seed and layout with their base, so `groups` marks each group's images (the linear
    probe splits by it). On `heldout` (unseen captions, the reference pool's styles) this measures subject
    recognition on captions never trained on; on `heldout_style` it adds the shift to a style never trained on.
    """
    source = open_split(dataset_dir, split)
    return split_images(source, read_classes(dataset_dir, [source]), split).labelled
