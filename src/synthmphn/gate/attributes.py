"""Attribute judges for the gate: the subject's colour and the number of instances (`gate.attributes`).

The gate's subject reference (`gate.reference`) sees shape only (grey pixels), so with the embedded world it
cannot tell a `binding` failure (the caption's colour went to the background) or a `count` failure (one
instance more or fewer) from a faithful image, and it abstains on colour and count hard negatives. A judge is
a small CNN of the same kind (`eval.classifier.SmallCNN`) trained on renders of the reference's render set
whose `attribute` is always named and drawn uniformly from its values:

- colour: the caption bank's colours, on RGB pixels (the subject's colour is what it must see);
- count: 1 … (the bank's largest count + 1), so a count failure of the largest count is a class too, on grey
  pixels like the subject reference.

With a judge on, an image's `own` score is min(p(subject), p(captioned value | image)) over the judged
attributes its caption names (a caption without a count shows one instance, so count is always judged), and a
partner that names the same subject but another value is scored by the judge's two-way softmax. Cached like
the gate reference, keyed by render set, settings, attribute and the sources that decide them.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from synthmphn.analyse.embedded import REFERENCE_SEED, EmbeddedReference, RenderSet, _spec, reference_key
from synthmphn.captions.concepts import builtin_bank
from synthmphn.data.records import CaptionSpec
from synthmphn.eval.classifier import SmallCNN, TrainSettings, pixels, train_classifier
from synthmphn.eval.reference import cache_dir
from synthmphn.images.procedural import STYLES, create_procedural_generator
from synthmphn.images.procedural.palette import normalise_name
from synthmphn.images.procedural.scene import canonical_count, parse_scene
from synthmphn.io import atomic_write_bytes
from synthmphn.seeding import derive_seed

ATTRIBUTES = ("colour", "count")
"""The attributes a judge exists for (`gate.attributes`)."""


def attribute_values(attribute: str) -> list[str]:
    """A judge's classes: the bank's colour names, or the counts "1" … str(largest bank count + 1)."""
    values = builtin_bank().attributes
    if attribute == "colour":
        return [normalise_name(v) for v in values["colour"]]
    if attribute == "count":
        largest = max(canonical_count(v) for v in values["count"])
        return [str(n) for n in range(1, largest + 2)]
    raise ValueError(f"gate.attributes: no judge for {attribute!r}; choose from {list(ATTRIBUTES)}")


def caption_value(attribute: str, spec: CaptionSpec | None, values: list[str]) -> str | None:
    """The judged value a caption asks for ("red", "3"; count 1 when unnamed), None when the judge cannot
    judge it (no spec, a subject or value the procedural world does not know)."""
    if spec is None:
        return None
    try:
        scene = parse_scene(spec, "gate")
    except ValueError:
        return None
    value = (
        (normalise_name(scene.colour) if scene.colour else None)
        if attribute == "colour"
        else str(scene.count)
    )
    return value if value in values else None


def render_attribute_set(attribute: str, render: RenderSet) -> tuple[list[Image.Image], np.ndarray]:
    """`per_style` renders per subject and style with `attribute` named, its value drawn uniformly; labels
    index `attribute_values`. Deterministic for the render set's seed."""
    values = attribute_values(attribute)
    styles = render.styles or tuple(STYLES.names())
    images: list[Image.Image] = []
    labels: list[int] = []
    for subject in render.subjects:
        rng = np.random.default_rng(derive_seed(render.seed, "judge", attribute, subject))
        for style in styles:
            specs, chunk = [], []
            for _ in range(render.per_style):
                spec, label = _spec(subject, rng, render.attribute_rate), int(rng.integers(len(values)))
                attributes = {**spec.attributes, attribute: values[label]}
                if (
                    attribute == "colour"
                    and normalise_name(attributes.get("background", "")) == values[label]
                ):
                    attributes.pop("background")
                specs.append(spec.model_copy(update={"attributes": attributes}))
                chunk.append(label)
            seeds = [
                derive_seed(render.seed, "judge", attribute, subject, style, i) for i in range(len(specs))
            ]
            images += create_procedural_generator(style, render.size).generate(
                [""] * len(specs), specs, seeds
            )
            labels += chunk
    return images, np.array(labels)


def attribute_judge(
    attribute: str,
    render: RenderSet | None = None,
    settings: TrainSettings | None = None,
    cache: Path | None = None,
) -> EmbeddedReference:
    """The cached judge of `attribute` (module doc), trained and cached atomically when missing."""
    values = attribute_values(attribute)
    render = render or RenderSet()
    settings = settings or TrainSettings(epochs=15, batch_size=64, width=16, seed=REFERENCE_SEED)
    grey = attribute != "colour"
    text = reference_key(render, settings) + attribute + Path(__file__).read_bytes().decode("utf-8")
    key = hashlib.sha256(text.encode()).hexdigest()[:20]
    path = (cache or cache_dir()) / "gate-judges" / f"{attribute}-{key}.pt"
    if path.is_file():
        model = SmallCNN(1 if grey else 3, len(values), settings.width)
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return EmbeddedReference(model.eval(), values, render.size, grey)
    images, labels = render_attribute_set(attribute, render)
    with torch.random.fork_rng():
        model = train_classifier(pixels(images, render.size, grey), labels, len(values), settings)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buffer.getvalue())
    return EmbeddedReference(model.eval(), values, render.size, grey)
