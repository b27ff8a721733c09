"""The gate's default reference: the embedded reference classifier plus a `nothing` class.

The embedded reference (`analyse.embedded`) only ever saw images with a subject, so on an image whose
subject was left out it still puts its probability on some subject, often enough on the captioned one. The
gate's reference is trained on the same render set plus `per_style` subject-less renders per style (the
style's own background, texture and clutter, drawn by the style with profile `omission=1`), labelled
`nothing`; the gate's softmax then runs over every subject and `nothing`, so an empty picture loses its
probability to `nothing`. Cached like the embedded reference, keyed by its render set, training settings and
the sources that decide it (`analyse.embedded.code_version` and this file).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from synthmphn.analyse.embedded import (
    REFERENCE_SEED,
    EmbeddedReference,
    RenderSet,
    _spec,
    reference_key,
    render_reference_set,
)
from synthmphn.eval.classifier import SmallCNN, TrainSettings, pixels, train_classifier
from synthmphn.eval.reference import cache_dir
from synthmphn.images.procedural import STYLES, create_procedural_generator
from synthmphn.io import atomic_write_bytes
from synthmphn.seeding import derive_seed

NOTHING = "nothing"
"""The class of a picture without a subject (the `omission` failure)."""


def render_empty_set(render: RenderSet) -> list[Image.Image]:
    """`per_style` subject-less renders per style (random specs of the render set's subjects)."""
    styles = render.styles or tuple(STYLES.names())
    rng = np.random.default_rng(derive_seed(render.seed, "gate", NOTHING))
    images: list[Image.Image] = []
    for style in styles:
        subjects = [render.subjects[int(rng.integers(len(render.subjects)))] for _ in range(render.per_style)]
        specs = [_spec(s, rng, render.attribute_rate) for s in subjects]
        seeds = [derive_seed(render.seed, NOTHING, style, i) for i in range(render.per_style)]
        generator = create_procedural_generator(f"{style}?omission=1", render.size)
        images += generator.generate([""] * len(specs), specs, seeds)
    return images


def gate_reference_key(render: RenderSet, settings: TrainSettings) -> str:
    """The cache key: the embedded reference's key (render set, settings, renderer sources) and this file."""
    text = reference_key(render, settings) + Path(__file__).read_bytes().decode("utf-8")
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def gate_reference(
    render: RenderSet | None = None, settings: TrainSettings | None = None, cache: Path | None = None
) -> EmbeddedReference:
    """The cached gate reference for (render, settings), trained (and cached atomically) when missing."""
    render = render or RenderSet()
    settings = settings or TrainSettings(epochs=15, batch_size=64, width=16, seed=REFERENCE_SEED)
    subjects = [*render.subjects, NOTHING]
    path = (cache or cache_dir()) / "gate-reference" / f"{gate_reference_key(render, settings)}.pt"
    if path.is_file():
        state = torch.load(path, map_location="cpu", weights_only=True)
        model = SmallCNN(1 if render.grey else 3, len(subjects), settings.width)
        model.load_state_dict(state)
        return EmbeddedReference(model.eval(), subjects, render.size, render.grey)
    images, labels = render_reference_set(render)
    empty = render_empty_set(replace(render))
    images += empty
    labels = np.concatenate([labels, np.full(len(empty), len(render.subjects))])
    with torch.random.fork_rng():
        model = train_classifier(pixels(images, render.size, render.grey), labels, len(subjects), settings)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buffer.getvalue())
    return EmbeddedReference(model.eval(), subjects, render.size, render.grey)
