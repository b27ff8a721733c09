"""Hand-checkable eval inputs: a tiny on-disk dataset whose images carry an id, and fake encoders.

Every image is a solid PNG whose colour encodes an integer id; `World` remembers what each id depicts
(the caption it was drawn from, its subject, its generator). A `ConceptEncoder` embeds an image or a
text as the one-hot vector of a "concept" chosen by a function, so tests set embeddings by hand:
a perfect encoder maps an image and its caption to the same concept, a constant encoder maps
everything to one vector. Unknown concepts (None) embed as the zero vector (every score ties).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import torch
from PIL import Image

from synthmphn.data.manifest import Manifest, ShardEntry, shard_name
from synthmphn.data.records import CaptionSpec, Group, ImageRecord, NegativeCaption
from synthmphn.data.shards import write_shard

SUBJECTS = ("digit 0", "digit 1", "digit 2")
COLOURS = ("red", "blue")


def id_image(image_id: int, size: int = 4) -> Image.Image:
    """A solid RGB image whose colour encodes `image_id` (< 65536)."""
    return Image.new("RGB", (size, size), (image_id % 256, image_id // 256, 7))


def image_id(image: Image.Image) -> int | None:
    """The id `id_image` encoded, or None for any other image."""
    r, g, b = image.convert("RGB").getpixel((0, 0))
    return r + 256 * g if b == 7 else None


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


class World:
    """Registry of fake images: id -> what the image depicts."""

    def __init__(self) -> None:
        self.meta: dict[int, dict[str, str]] = {}

    def new_image(self, **meta: str) -> bytes:
        self.meta[len(self.meta)] = meta
        return png(id_image(len(self.meta) - 1))

    def about(self, image: Image.Image, field: str) -> str | None:
        found = image_id(image)
        return self.meta.get(found, {}).get(field) if found is not None else None


class ConceptEncoder:
    """One-hot embeddings of concepts: `image_concept(img)`, `text_concept(text)` (None -> zero vector)."""

    def __init__(
        self,
        image_concept: Callable[[Image.Image], str | None],
        text_concept: Callable[[str], str | None],
        dim: int = 256,
    ) -> None:
        self.image_concept, self.text_concept, self.dim = image_concept, text_concept, dim
        self.index: dict[str, int] = {}
        self.calls = 0

    def _vector(self, concept: str | None) -> torch.Tensor:
        vector = torch.zeros(self.dim)
        if concept is not None:
            vector[self.index.setdefault(concept, len(self.index))] = 1.0
        return vector

    def encode_images(self, images: list[Image.Image]) -> torch.Tensor:
        self.calls += 1
        return torch.stack([self._vector(self.image_concept(im)) for im in images])

    def encode_texts(self, texts: list[str]) -> torch.Tensor:
        return torch.stack([self._vector(self.text_concept(t)) for t in texts])


def constant_encoder() -> ConceptEncoder:
    """Every image and text gets the same embedding."""
    return ConceptEncoder(lambda image: "same", lambda text: "same")


def subject_in(text: str, subjects: tuple[str, ...] = SUBJECTS) -> str | None:
    """The longest subject name that appears in `text`."""
    found = [s for s in subjects if s in text]
    return max(found, key=len) if found else None


def caption_encoder(world: World) -> ConceptEncoder:
    """Perfect for retrieval/compositional: an image embeds as the caption it was drawn from."""
    return ConceptEncoder(lambda image: world.about(image, "text"), lambda text: text)


def subject_encoder(world: World) -> ConceptEncoder:
    """Perfect for zero-shot: an image embeds as its subject, a prompt as the subject it names."""
    return ConceptEncoder(lambda image: world.about(image, "subject"), subject_in)


def caption(colour: str, subject: str) -> str:
    return f"a photo of a {colour} {subject} on a white background"


def make_group(world: World, gid: str, subject: str, colour: str, generators: list[str], split: str) -> tuple:
    """A group with one image per generator, a colour negative and a subject negative (images paired)."""
    other_colour = COLOURS[1 - COLOURS.index(colour)]
    other_subject = SUBJECTS[(SUBJECTS.index(subject) + 1) % len(SUBJECTS)]
    spec = CaptionSpec(subject=subject, category="digit", attributes={"colour": colour})
    images: dict[str, bytes] = {}
    base = []
    for i, gen in enumerate(generators):
        base.append(ImageRecord(key=f"base.{i}.png", generator=gen, seed=i))
        images[f"base.{i}.png"] = world.new_image(
            text=caption(colour, subject), subject=subject, generator=gen
        )
    negatives = []
    edits = [
        ("attribute:colour", spec.with_change("attribute:colour", other_colour)),
        ("subject", spec.with_change("subject", other_subject)),
    ]
    for j, (kind, neg_spec) in enumerate(edits):
        text = caption(neg_spec.attributes["colour"], neg_spec.subject)
        records = []
        for i, gen in enumerate(generators):
            records.append(ImageRecord(key=f"neg{j}.{i}.png", generator=gen, seed=i))
            images[f"neg{j}.{i}.png"] = world.new_image(text=text, subject=neg_spec.subject, generator=gen)
        negatives.append(NegativeCaption(text=text, kind=kind, spec=neg_spec, images=records))
    group = Group(
        id=gid, caption=caption(colour, subject), spec=spec, images=base, negatives=negatives, split=split
    )
    return group, images


def make_dataset(folder: Path, world: World, generators: tuple[str, ...] = ("fake:a", "fake:b")) -> Path:
    """A dataset folder with `heldout` (6 groups, one image per generator) and `heldout_style` (6 groups,
    one image each from `fake:style`), classes.json in build's format, and a manifest."""
    manifest = Manifest(folder)
    for split, gens in (("heldout", list(generators)), ("heldout_style", ["fake:style"])):
        samples = [
            make_group(world, f"{split[:1]}{split[-1]}{n:03d}", SUBJECTS[n % 3], COLOURS[n // 3], gens, split)
            for n in range(6)
        ]
        path = folder / shard_name(split, 0)
        sha = write_shard(path, samples)
        n_images = sum(len(images) for _, images in samples)
        manifest.add(
            ShardEntry(path=path.name, split=split, index=0, n_groups=6, n_images=n_images, sha256=sha)
        )
    manifest.save()
    rows = [{"index": i, "name": s, "category": "digit", "display": s} for i, s in enumerate(SUBJECTS)]
    (folder / "classes.json").write_text(json.dumps(rows))
    return folder
