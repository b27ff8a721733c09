"""A tiny drawable world for recaption tests: 4 shapes × 2 colours × 2 positions on 2 backgrounds (PIL only)."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

from PIL import Image, ImageDraw

from synthmphn.data.manifest import Manifest, ShardEntry, shard_name
from synthmphn.data.records import CaptionSpec, Group, ImageRecord, NegativeCaption
from synthmphn.data.shards import write_shard

SUBJECTS = ("circle", "square", "triangle", "cross")
COLOURS = {"red": (220, 30, 30), "blue": (30, 60, 220)}
POSITIONS = {"left": 0.3, "right": 0.7}
BACKGROUNDS = {"white": (245, 245, 245), "black": (15, 15, 15)}


def draw(
    subject: str,
    colour: str,
    position: str = "left",
    background: str = "white",
    seed: int = 0,
    size: int = 32,
) -> Image.Image:
    """One image of a `colour` `subject` centred near `position`, jittered by `seed`."""
    rng = random.Random(seed)
    image = Image.new("RGB", (size, size), BACKGROUNDS[background])
    pen = ImageDraw.Draw(image)
    radius = size * rng.uniform(0.2, 0.26)
    cx = size * POSITIONS[position] + rng.uniform(-2, 2)
    cy = size * 0.5 + rng.uniform(-3, 3)
    fill = tuple(min(255, max(0, c + rng.randint(-20, 20))) for c in COLOURS[colour])
    box = (cx - radius, cy - radius, cx + radius, cy + radius)
    if subject == "circle":
        pen.ellipse(box, fill=fill)
    elif subject == "square":
        pen.rectangle(box, fill=fill)
    elif subject == "triangle":
        pen.polygon([(cx, cy - radius), (cx - radius, cy + radius), (cx + radius, cy + radius)], fill=fill)
    else:
        width = radius / 2.5
        pen.rectangle((cx - width, cy - radius, cx + width, cy + radius), fill=fill)
        pen.rectangle((cx - radius, cy - width, cx + radius, cy + width), fill=fill)
    return image


def caption_of(subject: str, colour: str, position: str = "left", background: str = "white") -> str:
    """The caption the world's grammar writes for a drawing."""
    return f"a {colour} {subject} on the {position} on a {background} background"


def sample(n: int, seed: int) -> tuple[list[Image.Image], list[str], list[str]]:
    """`n` random drawings: (images, captions, subjects)."""
    rng = random.Random(seed)
    images, captions, subjects = [], [], []
    for i in range(n):
        subject = rng.choice(SUBJECTS)
        colour = rng.choice(sorted(COLOURS))
        position = rng.choice(sorted(POSITIONS))
        background = rng.choice(sorted(BACKGROUNDS))
        images.append(draw(subject, colour, position, background, seed=seed * 100003 + i))
        captions.append(caption_of(subject, colour, position, background))
        subjects.append(subject)
    return images, captions, subjects


def png(image: Image.Image) -> bytes:
    """PNG bytes of an image."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def toy_group(
    index: int, split: str, misaligned: bool = False, per_caption: int = 2
) -> tuple[Group, dict[str, bytes]]:
    """One group of the toy world: `per_caption` drawings of one caption, one colour negative with its drawings.

    A misaligned group's caption names the wrong subject (the drawings stay right), as in the recaption study.
    """
    rng = random.Random(f"{split}-{index}")
    subject, colour = rng.choice(SUBJECTS), rng.choice(sorted(COLOURS))
    position, background = rng.choice(sorted(POSITIONS)), rng.choice(sorted(BACKGROUNDS))
    other = "blue" if colour == "red" else "red"
    images: dict[str, bytes] = {}
    base, negative = [], []
    for k in range(per_caption):
        for role, paint, records in (("base", colour, base), ("neg0", other, negative)):
            key = f"{role}.{k}.png"
            seed = rng.randrange(1 << 30)
            images[key] = png(draw(subject, paint, position, background, seed=seed))
            records.append(ImageRecord(key=key, generator=f"toy:{k}", seed=seed))
    said = SUBJECTS[(SUBJECTS.index(subject) + 1) % len(SUBJECTS)] if misaligned else subject
    group = Group(
        id=f"{split[0]}{index:05d}",
        caption=caption_of(said, colour, position, background),
        spec=CaptionSpec(
            subject=subject, category="shape", attributes={"colour": colour, "position": position}
        ),
        images=base,
        negatives=[
            NegativeCaption(
                text=caption_of(said, other, position, background), kind="attribute:colour", images=negative
            )
        ],
        split=split,
        source="toy",
        misaligned=misaligned,
    )
    return group, images


def write_toy_dataset(root: Path, train_shards: int = 2, per_shard: int = 6, heldout: int = 4) -> Path:
    """A dataset folder made by hand (no build stage): train shards, one heldout shard, manifest, metadata.

    Every third train group (ids ending 2, 5, 8, ...) is misaligned.
    """
    manifest = Manifest(root)
    layout = [("train", s, range(s * per_shard, (s + 1) * per_shard)) for s in range(train_shards)]
    layout.append(("heldout", 0, range(heldout)))
    for split, index, ids in layout:
        samples = [toy_group(i, split, misaligned=split == "train" and i % 3 == 2) for i in ids]
        name = shard_name(split, index)
        sha = write_shard(root / name, samples)
        n_images = sum(len(images) for _, images in samples)
        manifest.add(
            ShardEntry(
                path=name, split=split, index=index, n_groups=len(samples), n_images=n_images, sha256=sha
            )
        )
    manifest.save()
    (root / "classes.json").write_text(json.dumps([{"name": s, "category": "shape"} for s in SUBJECTS]))
    return root
