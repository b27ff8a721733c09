"""The unit of work of every engine: render one shard's images and write the shard (atomic, sha256).

Negatives are rendered with the SAME generators and seeds as their base (so only the edited slot changes);
images are rendered in blocks of groups, batched per generator, and encoded without metadata, so a shard's
bytes depend only on the config and seed, never on the engine or the number of workers.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from synthmphn.build.plan import RENDER_BATCH_IMAGES, ShardTask
from synthmphn.build.stats import BuildStats
from synthmphn.config import ImagesConfig
from synthmphn.data.manifest import ShardEntry
from synthmphn.data.records import CaptionDraft, CaptionSpec, Group, ImageRecord, NegativeCaption
from synthmphn.data.shards import write_shard
from synthmphn.images import ImageJob, create_pool, encode_image, plan_group, render_jobs
from synthmphn.images.procedural import drawn_record


@dataclass
class ShardResult:
    """What a finished shard task reports back: its manifest entry and counts."""

    entry: ShardEntry
    stats: BuildStats


_POOLS: dict[tuple[tuple[str, ...], str], dict[str, Any]] = {}


def generator_pool(names: Sequence[str], images: ImagesConfig) -> dict[str, Any]:
    """This process's generators for `names`, created once (model loading is the slow part)."""
    key = (tuple(names), images.model_dump_json())
    if key not in _POOLS:
        _POOLS[key] = create_pool(list(names), images.size, images)
    return _POOLS[key]


def image_record(key: str, generator: str, seed: int, spec: CaptionSpec | None) -> ImageRecord:
    """An image's record; a profiled procedural generator's failure (what it really draws) goes in it too."""
    failure, drawn = drawn_record(generator, spec, seed)
    return ImageRecord(key=key, generator=generator, seed=seed, failure=failure, drawn=drawn)


def group_record(draft: CaptionDraft, task: ShardTask) -> Group:
    """The group record of a draft with every image planned; negatives reuse the base's generators and seeds."""
    plans = plan_group(
        draft.id,
        list(task.plan.pool),
        task.plan.strategy,
        task.plan.per_caption,
        task.seed,
        len(draft.negatives),
    )
    ext = task.images.format

    specs = {"base": draft.spec, **{f"neg{j}": neg.spec for j, neg in enumerate(draft.negatives)}}

    def records(role: str) -> list[ImageRecord]:
        return [image_record(f"{role}.{i}.{ext}", g, s, specs[role]) for i, (g, s) in enumerate(plans[role])]

    negatives = [
        NegativeCaption(text=neg.text, kind=neg.kind, spec=neg.spec, images=records(f"neg{j}"))
        for j, neg in enumerate(draft.negatives)
    ]
    return Group(
        id=draft.id,
        caption=draft.caption,
        spec=draft.spec,
        images=records("base"),
        negatives=negatives,
        split=task.split,
        source=task.source,
        misaligned=draft.misaligned,
    )


def image_jobs(groups: Sequence[Group], offset: int = 0) -> list[tuple[int, str, ImageJob]]:
    """(group number, image key, job) for every image of some groups (base then negatives), from `offset`."""
    jobs = []
    for number, group in enumerate(groups, start=offset):
        for record in group.images:
            jobs.append(
                (number, record.key, ImageJob(record.generator, group.caption, group.spec, record.seed))
            )
        for negative in group.negatives:
            for record in negative.images:
                job = ImageJob(record.generator, negative.text, negative.spec, record.seed)
                jobs.append((number, record.key, job))
    return jobs


def render_shard(task: ShardTask, on_groups: Callable[[int, int], None] | None = None) -> ShardResult:
    """Renders every image of a shard's groups and writes the shard; the unit of work of every engine.

    `on_groups(n_groups, n_images)` is called after each rendered block (for progress bars).
    """
    for module in task.plugin_modules:  # a fresh worker process registers a user's generators first
        importlib.import_module(module)
    generators = generator_pool(task.plan.pool, task.images)
    groups = [group_record(draft, task) for draft in task.drafts]
    per_group = max(1, len(groups[0].images) * (1 + len(groups[0].negatives))) if groups else 1
    block = max(1, RENDER_BATCH_IMAGES // per_group)
    images: list[dict[str, bytes]] = [{} for _ in groups]
    for start in range(0, len(groups), block):
        targets = image_jobs(groups[start : start + block], offset=start)
        pictures = render_jobs([job for _, _, job in targets], generators)
        for (number, key, job), picture in zip(targets, pictures, strict=True):
            images[number][key] = encode_image(picture, task.images.format, task.images.size, job.generator)
        if on_groups is not None:
            on_groups(len(groups[start : start + block]), len(targets))
    sha = write_shard(task.path, list(zip(groups, images, strict=True)))
    stats = BuildStats()
    stats.add_shard(task.split, groups)
    entry = ShardEntry(
        path=task.path.name,
        split=task.split,
        index=task.index,
        n_groups=len(groups),
        n_images=stats.images[task.split],
        sha256=sha,
    )
    return ShardResult(entry, stats)
