"""Helpers for the training tests: a tiny hand-made dataset (no build stage) and a tiny run config."""

from __future__ import annotations

import io
import random
from pathlib import Path

from PIL import Image

from synthmphn.config import RunConfig, validate_config
from synthmphn.data.manifest import Manifest, ShardEntry, shard_name
from synthmphn.data.records import Group, ImageRecord, NegativeCaption
from synthmphn.data.shards import write_shard

COLOURS = ["red", "green", "blue", "yellow", "purple", "orange", "white", "black"]
SHAPES = ["circle", "square", "star", "heart"]


def _png(seed: int, size: int) -> bytes:
    """A small deterministic image: a flat colour with a random lighter square."""
    rng = random.Random(seed)
    img = Image.new("RGB", (size, size), tuple(rng.randrange(256) for _ in range(3)))
    x, y = rng.randrange(size // 2), rng.randrange(size // 2)
    img.paste((255, 255, 255), (x, y, x + size // 2, y + size // 2))
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return buffer.getvalue()


def write_tiny_dataset(
    root: Path,
    n_groups: int = 16,
    per_caption: int = 2,
    negatives: int = 1,
    size: int = 16,
    generators: tuple[str, ...] = ("gen:a", "gen:b"),
) -> Path:
    """Writes one train shard + manifest with `n_groups` groups; each caption has `per_caption` images."""
    samples = []
    for i in range(n_groups):
        colour, shape = COLOURS[i % len(COLOURS)], SHAPES[(i // len(COLOURS)) % len(SHAPES)]
        images: dict[str, bytes] = {}

        def records(
            prefix: str, offset: int, images: dict[str, bytes] = images, i: int = i
        ) -> list[ImageRecord]:
            out = []
            for k in range(per_caption):
                key, seed = f"{prefix}.{k}.png", i * 1000 + offset * 10 + k
                images[key] = _png(seed, size)
                out.append(ImageRecord(key=key, generator=generators[k % len(generators)], seed=seed))
            return out

        negs = [
            NegativeCaption(
                text=f"a {COLOURS[(i + j + 1) % len(COLOURS)]} {shape} {i}",
                kind="attribute:colour",
                images=records(f"neg{j}", j + 1),
            )
            for j in range(negatives)
        ]
        group = Group(
            id=f"g{i:05d}", caption=f"a {colour} {shape} {i}", images=records("base", 0), negatives=negs
        )
        samples.append((group, images))
    name = shard_name("train", 0)
    sha = write_shard(root / name, samples)
    n_images = sum(len(images) for _, images in samples)
    Manifest(
        root,
        [ShardEntry(path=name, split="train", index=0, n_groups=n_groups, n_images=n_images, sha256=sha)],
    ).save()
    return root


def tiny_config(out: Path, data: Path, **train: object) -> RunConfig:
    """A run on the tiny dataset: synth-tiny-vit, B=8, 4 steps, one thread, no workers, no augmentation."""
    settings = {
        "data": str(data),
        "model": {"name": "synth-tiny-vit"},
        "loss": "mpclip",
        "images_per_caption": 2,
        "batch_size": 8,
        "steps": 4,
        "lr": 1e-3,
        "warmup_steps": 1,
        "checkpoint_every": 2,
        "log_every": 1,
        "workers": 0,
        "threads": 1,
        "augment": False,
        "hn_schedule": {"name": "linear"},
    }
    settings.update(train)
    return validate_config({"seed": 0, "output": {"dir": str(out)}, "train": settings})
