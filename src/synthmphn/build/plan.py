"""What a build renders: each split's render plan, one task per shard, and the build's error type."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from synthmphn.config import ImagesConfig, RunConfig
from synthmphn.data.manifest import shard_name
from synthmphn.data.records import CaptionDraft
from synthmphn.images import GENERATORS, parse_generator_name

SPLIT_PREFIXES = {"train": "g", "heldout": "h", "heldout_style": "s"}
BUILD_CONFIG_NAME = "build_config.json"
SUMMARY_NAME = "build_summary.json"
CLASSES_NAME = "classes.json"
CAPTIONS_DIR = "captions"
RENDER_BATCH_IMAGES = 64  # images rendered per block of groups (bounds memory; batches each generator)


class BuildError(ValueError):
    """The build cannot start or continue; the message says what is wrong and what would be right."""


@dataclass(frozen=True)
class RenderPlan:
    """How the images of a split are drawn: generator pool, MSM strategy and images per caption."""

    pool: tuple[str, ...]
    strategy: str
    per_caption: int


@dataclass
class ShardTask:
    """Everything needed to render and write one shard, picklable for worker processes and Ray."""

    split: str
    index: int
    path: Path
    drafts: list[CaptionDraft]
    plan: RenderPlan
    seed: int
    source: str
    images: ImagesConfig
    plugin_modules: tuple[str, ...] = ()


def split_plans(images: ImagesConfig) -> dict[str, RenderPlan]:
    """The render plan of each split; held-out captions use the training pool, the style split its own style."""
    train = RenderPlan(tuple(images.pool), images.strategy, images.per_caption)
    plans = {"train": train, "heldout": train}
    if images.heldout_style is not None:
        if images.heldout_style in images.pool:
            raise BuildError(
                f"images.heldout_style {images.heldout_style!r} is also in images.pool; the held-out style must "
                "never be trained on: pick a style outside the pool (or set images.heldout_style=null)"
            )
        plans["heldout_style"] = RenderPlan((images.heldout_style,), "single", 1)
    return plans


def split_sizes(cfg: RunConfig) -> dict[str, int]:
    """Groups wanted per split."""
    return {
        "train": cfg.captions.n_groups,
        "heldout": cfg.splits.heldout_groups,
        "heldout_style": cfg.splits.heldout_style_groups,
    }


def plugin_modules(plans: dict[str, RenderPlan]) -> tuple[str, ...]:
    """Modules defining the pool's generator factories; a spawned worker imports them, so a generator a user
    registered in their own module is registered there too (the built-ins register on importing the package).
    """
    modules = []
    for plan in plans.values():
        for name in plan.pool:
            module = getattr(GENERATORS.get(parse_generator_name(name)[0]), "__module__", None)
            if module and module != "__main__" and module not in modules:
                modules.append(module)
    return tuple(modules)


def shard_tasks(
    cfg: RunConfig, drafts: dict[str, list[CaptionDraft]], plans: dict[str, RenderPlan]
) -> list[ShardTask]:
    """One task per shard: each split's drafts cut into `shards.groups_per_shard` groups, in split order."""
    size = cfg.shards.groups_per_shard
    modules = plugin_modules(plans)
    tasks = []
    for split, split_drafts in drafts.items():
        for index, start in enumerate(range(0, len(split_drafts), size)):
            tasks.append(
                ShardTask(
                    split=split,
                    index=index,
                    path=cfg.dataset_dir / shard_name(split, index),
                    drafts=split_drafts[start : start + size],
                    plan=plans[split],
                    seed=cfg.seed,
                    source=cfg.captions.backend,
                    images=cfg.images,
                    plugin_modules=modules,
                )
            )
    return tasks
