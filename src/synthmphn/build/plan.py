"""What a build renders: each split's render plan, one task per shard, and the build's error type."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthmphn.config import ImagesConfig, RunConfig
from synthmphn.data.manifest import IN_DOMAIN, SHARED, shard_name
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


def style_of(name: str) -> str:
    """A pool entry without its profile query (`procedural:flat?fidelity=0.8` -> `procedural:flat`)."""
    return name.partition("?")[0]


def reference_plan(cfg: RunConfig) -> RenderPlan:
    """How `heldout` is drawn: `splits.reference_pool` with msm-all, one image per member (a set shared by
    every variant, whatever its images.pool / strategy); `reference_pool: null` = the training plan."""
    images, pool = cfg.images, cfg.splits.reference_pool
    if pool is None:
        return RenderPlan(tuple(images.pool), images.strategy, images.per_caption)
    if images.heldout_style is not None and style_of(images.heldout_style) in {style_of(p) for p in pool}:
        raise BuildError(
            f"splits.reference_pool includes the held-out style {images.heldout_style!r}; held-out captions "
            "are drawn in training-like styles: remove it from splits.reference_pool"
        )
    return RenderPlan(tuple(pool), "msm-all", len(pool))


def split_plans(cfg: RunConfig) -> dict[str, RenderPlan]:
    """The render plan of each split: train by images.pool / strategy, held-out captions by the reference pool
    (`reference_plan`), the style split by its own style alone."""
    images = cfg.images
    if images.heldout_style is not None and images.heldout_style in images.pool:
        raise BuildError(
            f"images.heldout_style {images.heldout_style!r} is also in images.pool; the held-out style must "
            "never be trained on: pick a style outside the pool (or set images.heldout_style=null)"
        )
    plans = {
        "train": RenderPlan(tuple(images.pool), images.strategy, images.per_caption),
        "heldout": reference_plan(cfg),
    }
    if images.heldout_style is not None:
        plans["heldout_style"] = RenderPlan((images.heldout_style,), "single", 1)
    return plans


def heldout_render(cfg: RunConfig) -> dict[str, dict[str, Any]]:
    """How each held-out split is drawn and its scope: SHARED when independent of images.pool / strategy (the
    reference pool, the held-out style), IN_DOMAIN for `heldout` under `splits.reference_pool: null`. The build
    summary records it; eval labels its sets by it."""
    rows = {}
    for split, plan in split_plans(cfg).items():
        if split == "train":
            continue
        in_domain = split == "heldout" and cfg.splits.reference_pool is None
        rows[split] = {
            "pool": list(plan.pool),
            "strategy": plan.strategy,
            "per_caption": plan.per_caption,
            "scope": IN_DOMAIN if in_domain else SHARED,
        }
    return rows


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
