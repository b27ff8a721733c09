"""A small two-split dataset (train + heldout, hand-made, no build stage) for the interop tests."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from synthmphn.data.manifest import Manifest, ShardEntry, shard_name
from synthmphn.data.records import Group, ImageRecord, NegativeCaption
from synthmphn.data.shards import write_shard

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 220), "yellow": (230, 220, 30)}
SHAPES = ["circle", "square"]


def png(colour: tuple[int, int, int], corner: int, size: int = 32, grey: int = 128) -> bytes:
    """A grey image with a coloured square in one of four corners."""
    img = Image.new("RGB", (size, size), (grey, grey, grey))
    x, y = (corner % 2) * size // 2, (corner // 2) * size // 2
    img.paste(colour, (x, y, x + size // 2, y + size // 2))
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return buffer.getvalue()


def write_split(root: Path, split: str, n_groups: int, per_caption: int, offset: int = 0) -> ShardEntry:
    """One shard of `split`: group i is a colour x shape caption, one colour-swap negative with images.

    Every image differs (grey level by group), so rankings have no exact ties."""
    names = list(COLOURS)
    samples = []
    for i in range(n_groups):
        colour, shape = names[(i + offset) % 4], SHAPES[((i + offset) // 4) % 2]
        other = names[(i + offset + 1) % 4]
        images = {}
        base, neg = [], []
        for k in range(per_caption):
            images[f"base.{k}.png"] = png(COLOURS[colour], (i + k) % 4, grey=96 + 8 * i)
            base.append(ImageRecord(key=f"base.{k}.png", generator="gen:a", seed=i * 10 + k))
            images[f"neg0.{k}.png"] = png(COLOURS[other], (i + k) % 4, grey=96 + 8 * i)
            neg.append(ImageRecord(key=f"neg0.{k}.png", generator="gen:a", seed=i * 10 + k + 5))
        negative = NegativeCaption(text=f"a {other} {shape} {i}", kind="attribute:colour", images=neg)
        group = Group(
            id=f"{split[0]}{i:05d}",
            caption=f"a {colour} {shape} {i}",
            images=base,
            negatives=[negative],
            split=split,
        )
        samples.append((group, images))
    name = shard_name(split, 0)
    sha = write_shard(root / name, samples)
    n_images = sum(len(images) for _, images in samples)
    return ShardEntry(path=name, split=split, index=0, n_groups=n_groups, n_images=n_images, sha256=sha)


def write_dataset(root: Path, per_caption: int = 2) -> Path:
    """train (8 groups) + heldout (6 groups, one image per caption) and the manifest."""
    root.mkdir(parents=True, exist_ok=True)
    entries = [write_split(root, "train", 8, per_caption), write_split(root, "heldout", 6, 1, offset=3)]
    Manifest(root, entries).save()
    return root
