"""The embedded reference (`eval.reference_model: embedded`): the embedded world's own judge of generators.

A `SmallCNN` trained once on a separate render set of the embedded world: every subject of the built-in
concept bank drawn `per_style` times by every procedural style (held-out one included) with faithful
default profiles, random attributes, a fixed seed of its own, labelled by the spec's subject (ground
truth, no model involved). It is cached under `cache_dir()/reference/<key>.pt`, the key hashing the render
set, the training settings and the source of the renderer and trainer, so a renderer change retrains it
and nothing else does. It lives here, not in eval/, because rendering needs captions/ and images/; importing
this module registers it in `eval.reference.REFERENCES`.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from synthmphn.captions.concepts import builtin_bank
from synthmphn.data.records import CaptionSpec
from synthmphn.eval.classifier import SmallCNN, TrainSettings, logits_and_embeddings, pixels, train_classifier
from synthmphn.eval.reference import EMBEDDED, REFERENCES, cache_dir
from synthmphn.images.procedural import (
    STYLES,
    SUBJECT_CATEGORIES,
    canonical_subject,
    create_procedural_generator,
)
from synthmphn.io import atomic_write_bytes
from synthmphn.seeding import derive_seed

REFERENCE_SEED = 915_372  # the render set's own seed: never a run's seed


def _builtin_subjects() -> tuple[str, ...]:
    return tuple(builtin_bank().names())


@dataclass(frozen=True)
class RenderSet:
    """The reference's training renders: subjects x styles x `per_style` images of `size` px."""

    subjects: tuple[str, ...] = field(default_factory=_builtin_subjects)
    styles: tuple[str, ...] = ()  # () = every procedural style
    per_style: int = 16
    size: int = 32
    attribute_rate: float = 0.4  # chance that each attribute is named (as in short grammar captions)
    grey: bool = True  # judge shape, not colour: grey with canonical polarity (see eval.classifier.pixels)
    seed: int = REFERENCE_SEED


def _spec(subject: str, rng: np.random.Generator, rate: float) -> CaptionSpec:
    bank = builtin_bank()
    attributes = {}
    for name, values in bank.attributes.items():
        if rng.random() < rate:
            attributes[name] = str(values[int(rng.integers(len(values)))])
    if attributes.get("colour") and attributes.get("colour") == attributes.get("background"):
        attributes.pop("background")
    canonical = canonical_subject(subject)
    if canonical is None:
        raise ValueError(f"reference render set: the procedural styles cannot draw subject {subject!r}")
    return CaptionSpec(subject=subject, category=SUBJECT_CATEGORIES[canonical], attributes=attributes)


def render_reference_set(render: RenderSet) -> tuple[list[Image.Image], np.ndarray]:
    """The render set's images and subject labels (index into `render.subjects`), deterministic."""
    styles = render.styles or tuple(STYLES.names())
    images: list[Image.Image] = []
    labels: list[int] = []
    for label, subject in enumerate(render.subjects):
        rng = np.random.default_rng(derive_seed(render.seed, "reference", subject))
        specs = [_spec(subject, rng, render.attribute_rate) for _ in range(render.per_style * len(styles))]
        for s, style in enumerate(styles):
            chunk = specs[s * render.per_style : (s + 1) * render.per_style]
            seeds = [derive_seed(render.seed, subject, style, i) for i in range(len(chunk))]
            images += create_procedural_generator(style, render.size).generate(
                [""] * len(chunk), chunk, seeds
            )
            labels += [label] * len(chunk)
    return images, np.array(labels)


def code_version() -> str:
    """Hash of the sources that decide the reference: the procedural renderer, the trainer, this module."""
    root = Path(__file__).resolve().parents[1]
    files = sorted((root / "images" / "procedural").glob("*.py")) + [
        root / "eval" / "classifier.py",
        Path(__file__).resolve(),
    ]
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def reference_key(render: RenderSet, settings: TrainSettings) -> str:
    """The cache key: the render set, the training settings and `code_version()`."""
    text = json.dumps(
        {"render": asdict(render), "train": asdict(settings), "code": code_version()}, sort_keys=True
    )
    return hashlib.sha256(text.encode()).hexdigest()[:20]


class EmbeddedReference:
    """The embedded world's reference classifier over `subjects` (see module doc)."""

    name = EMBEDDED

    def __init__(self, model: SmallCNN, subjects: Sequence[str], size: int, grey: bool = True) -> None:
        self.model = model
        self.subjects = list(subjects)
        self.size = size
        self.grey = grey
        self._column = {canonical_subject(s) or s: i for i, s in enumerate(self.subjects)}

    def columns(self, classnames: list[str]) -> list[int]:
        """The model's output column of each class name; ValueError names classes it cannot judge."""
        columns = [self._column.get(canonical_subject(name) or name) for name in classnames]
        unknown = [name for name, column in zip(classnames, columns, strict=True) if column is None]
        if unknown:
            raise ValueError(
                f"the embedded reference knows the built-in subjects only, not {unknown[:5]}; set "
                "eval.reference_model to an open_clip model ('<name>:<pretrained>') to judge these"
            )
        return [int(c) for c in columns]  # type: ignore[arg-type]

    def judge(self, images: Sequence[Image.Image], classnames: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(logits over `classnames` [N, C], normalised features [N, D])."""
        columns = self.columns(classnames)
        logits, features = logits_and_embeddings(self.model, pixels(images, self.size, self.grey))
        return logits[:, columns], features


def embedded_reference(
    render: RenderSet | None = None, settings: TrainSettings | None = None, cache: Path | None = None
) -> EmbeddedReference:
    """The cached reference for (render, settings), trained (and cached atomically) when missing."""
    render = render or RenderSet()
    settings = settings or TrainSettings(epochs=15, batch_size=64, width=16, seed=REFERENCE_SEED)
    path = (cache or cache_dir()) / "reference" / f"{reference_key(render, settings)}.pt"
    if path.is_file():
        state = torch.load(path, map_location="cpu", weights_only=True)
        model = SmallCNN(1 if state["grey"] else 3, len(state["subjects"]), state["width"])
        model.load_state_dict(state["state_dict"])
        return EmbeddedReference(model.eval(), state["subjects"], state["size"], state["grey"])
    images, labels = render_reference_set(render)
    with torch.random.fork_rng():
        x = pixels(images, render.size, render.grey)
        model = train_classifier(x, labels, len(render.subjects), settings)
    buffer = io.BytesIO()
    torch.save(
        {"state_dict": model.state_dict(), "subjects": list(render.subjects), "size": render.size,
         "width": settings.width, "grey": render.grey},
        buffer,
    )  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buffer.getvalue())
    return EmbeddedReference(model, render.subjects, render.size, render.grey)


@REFERENCES.register(EMBEDDED)
def load_embedded(device: str = "cpu", batch_size: int = 256) -> EmbeddedReference:
    """The default embedded reference (cached; a small CNN on the CPU, so device and batch size are unused)."""
    del device, batch_size
    return embedded_reference()
