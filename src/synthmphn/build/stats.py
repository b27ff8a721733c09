"""The build's logger role: counts per split / generator / negative kind, throughput, and the summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from synthmphn.build.plan import heldout_render
from synthmphn.config import RunConfig
from synthmphn.data.records import Group


@dataclass
class BuildStats:
    """Counts over groups: per split (groups, images, shards), per generator and per negative kind."""

    groups: Counter[str] = field(default_factory=Counter)
    images: Counter[str] = field(default_factory=Counter)
    shards: Counter[str] = field(default_factory=Counter)
    generators: Counter[str] = field(default_factory=Counter)
    negative_kinds: Counter[str] = field(default_factory=Counter)

    def add_shard(self, split: str, groups: Sequence[Group]) -> None:
        """Counts one shard's groups."""
        self.shards[split] += 1
        for group in groups:
            records = list(group.images) + [r for n in group.negatives for r in n.images]
            self.groups[split] += 1
            self.images[split] += len(records)
            self.generators.update(r.generator for r in records)
            self.negative_kinds.update(n.kind for n in group.negatives)

    def merge(self, other: BuildStats) -> None:
        """Adds another shard's counts to these."""
        for name in ("groups", "images", "shards", "generators", "negative_kinds"):
            getattr(self, name).update(getattr(other, name))


def throughput(
    rendered: dict[str, int], n_tasks: int, n_todo: int, wall_s: float, setup_s: float, render_s: float
) -> dict[str, Any]:
    """This run's share of the work and its speed (groups/s, images/s over the whole wall time)."""
    return {
        "shards_rendered": n_todo,
        "shards_skipped": n_tasks - n_todo,
        "groups_rendered": rendered["groups"],
        "images_rendered": rendered["images"],
        "wall_s": round(wall_s, 3),
        "setup_s": round(setup_s, 3),
        "render_s": round(render_s, 3),
        "groups_per_s": round(rendered["groups"] / wall_s, 2),
        "images_per_s": round(rendered["images"] / wall_s, 2),
    }


def summary_of(
    stats: BuildStats,
    splits: Sequence[str],
    rejections: Counter[str],
    run: dict[str, Any],
    cfg: RunConfig,
) -> dict[str, Any]:
    """The build summary: dataset counts, how each held-out split was drawn (and its scope), rejections, and
    this run's throughput."""
    counts = {
        s: {"groups": stats.groups[s], "images": stats.images[s], "shards": stats.shards[s]} for s in splits
    }
    skipped = {}
    if cfg.images.heldout_style is None and cfg.splits.heldout_style_groups > 0:
        skipped["heldout_style"] = "images.heldout_style is not set"
    return {
        "dataset_dir": str(cfg.dataset_dir),
        "splits": counts,
        "skipped_splits": skipped,
        "heldout_render": heldout_render(cfg),
        "generators": dict(sorted(stats.generators.items())),
        "negative_kinds": dict(sorted(stats.negative_kinds.items())),
        "rejections": dict(sorted(rejections.items())),
        "workers": cfg.images.workers,
        "engine": cfg.images.engine,
        "this_run": run,
    }


def format_summary(summary: dict[str, Any]) -> str:
    """A few readable lines of the summary for the terminal."""
    run = summary["this_run"]
    lines = [
        f"build summary: {summary['dataset_dir']}",
        f"  {'split':<15}{'groups':>8}{'images':>9}{'shards':>8}",
    ]
    for split, row in summary["splits"].items():
        lines.append(f"  {split:<15}{row['groups']:>8}{row['images']:>9}{row['shards']:>8}")
    for title, key in (
        ("generators", "generators"),
        ("negative kinds", "negative_kinds"),
        ("rejections", "rejections"),
    ):
        items = ", ".join(f"{k} {v}" for k, v in summary[key].items()) or "none"
        lines.append(f"  {title}: {items}")
    for split, row in summary.get("heldout_render", {}).items():
        lines.append(
            f"  {split} drawn by: {', '.join(row['pool'])} ({row['strategy']}, {row['per_caption']} per caption; "
            f"{row['scope']})"
        )
    lines.append(
        f"  this run: {run['shards_rendered']} shards rendered, {run['shards_skipped']} already done; "
        f"{run['groups_rendered']} groups, {run['images_rendered']} images in {run['wall_s']:.1f} s "
        f"({run['groups_per_s']:.1f} groups/s, {run['images_per_s']:.1f} images/s)"
    )
    return "\n".join(lines)
