"""The clean subset S_h and the captioner fitted on it (steps 2-3 of `recaption.pipeline`)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from synthmphn.config import RunConfig
from synthmphn.data.manifest import Manifest
from synthmphn.data.records import CaptionSpec, Group
from synthmphn.data.shards import read_shard
from synthmphn.io import atomic_write_json
from synthmphn.recaption import create_captioner
from synthmphn.recaption.base import Captioner
from synthmphn.recaption.shards import decode_image
from synthmphn.seeding import derive_seed


def select_clean_groups(groups: Sequence[Group], n: int) -> tuple[set[str], str]:
    """The ids of the clean subset S_h (the first `n` train groups by id) and how they were chosen.

    The build keeps its first `captions.clean_groups` groups free of misaligned captions and ids follow draw
    order, so this matches the build's clean prefix; user data puts its trusted groups first.
    """
    ids = sorted(g.id for g in groups)
    return set(ids[:n]), "first_by_id"


def clean_pairs(
    source: Manifest, train: dict[str, list[Group]], clean_ids: set[str]
) -> tuple[list, list[str], list[CaptionSpec | None]]:
    """(images, captions, specs) of S_h: one triple per base image, in shard order (reads only shards holding S_h)."""
    images: list[Image.Image] = []
    captions: list[str] = []
    specs: list[CaptionSpec | None] = []
    for entry in source.entries("train"):
        if not any(g.id in clean_ids for g in train[entry.path]):
            continue
        for group, data in read_shard(source.shard_path(entry)):
            if group.id in clean_ids:
                for record in group.images:
                    images.append(decode_image(data[record.key]))
                    captions.append(group.caption)
                    specs.append(group.spec)
    return images, captions, specs


def prepare_captioner(
    cfg: RunConfig, source: Manifest, train: dict[str, list[Group]], clean_ids: set[str], state: Path
) -> Captioner:
    """The configured captioner, fitted on S_h now or loaded from `state` where a previous run saved it."""
    captioner = create_captioner(cfg.recaption)
    if not captioner.needs_fit:
        return captioner
    marker = state / "fit.json"
    if marker.exists():
        captioner.load(state)
        return captioner
    started = time.time()
    images, captions, specs = clean_pairs(source, train, clean_ids)
    captioner.fit(images, captions, seed=derive_seed(cfg.seed, "recaption", "captioner"), specs=specs)
    captioner.save(state)
    losses = getattr(captioner, "losses", [])
    fit = {"pairs": len(images), "groups": len(clean_ids), "seconds": round(time.time() - started, 3)}
    atomic_write_json(marker, {**fit, "final_loss": losses[-1] if losses else None})
    return captioner
