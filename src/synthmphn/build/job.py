"""The build job: checks, captions, then every pending shard through the chosen engine, then the summary.

Each finished shard is added to `manifest.jsonl` at once (atomically); a rerun skips shards the manifest
lists whose file still has the listed sha256, so a killed build resumes to byte-identical shards.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from synthmphn.build.captions import (
    Captions,
    check_draft_ids,
    class_rows,
    generate_captions,
    load_captions,
    save_captions,
)
from synthmphn.build.checks import (
    build_lock,
    check_engine,
    check_existing_dataset,
    check_generators,
    check_strategies,
    check_writable,
    remove_stale_temp_files,
)
from synthmphn.build.cleanup import undone_unless_a_shard_exists
from synthmphn.build.engines import choose_engine
from synthmphn.build.plan import (
    BUILD_CONFIG_NAME,
    CLASSES_NAME,
    SUMMARY_NAME,
    RenderPlan,
    ShardTask,
    shard_tasks,
    split_plans,
)
from synthmphn.build.stats import BuildStats, format_summary, summary_of, throughput
from synthmphn.build.worker import ShardResult, generator_pool
from synthmphn.config import RunConfig, stage_identity
from synthmphn.data.manifest import Manifest
from synthmphn.data.shards import index_shard
from synthmphn.gate import check_attributes, check_gate_output, run_gate
from synthmphn.io import atomic_write_json, atomic_write_text
from synthmphn.progress import progress
from synthmphn.provenance import write_run_info


def prepare(cfg: RunConfig) -> dict[str, RenderPlan]:
    """Every check that needs no caption or image: generators, strategies, engine, folders."""
    plans = split_plans(cfg)
    check_generators(plans)
    check_strategies(plans, cfg.seed)
    check_engine(cfg.images)
    check_writable(cfg.dataset_dir, "dataset folder")
    check_writable(cfg.output.dir, "run folder")
    return plans


def write_metadata(cfg: RunConfig, captions: Captions, fresh_captions: bool) -> None:
    """Writes the build identity, caption cache, classes, provenance and the run's config.yaml."""
    dataset_dir = cfg.dataset_dir
    atomic_write_json(dataset_dir / BUILD_CONFIG_NAME, stage_identity(cfg, "build"))
    if fresh_captions:
        save_captions(dataset_dir, captions)
    atomic_write_json(dataset_dir / CLASSES_NAME, class_rows(cfg, captions))
    write_run_info(dataset_dir, cfg.model_dump(mode="json"), cfg.seed, "build")
    write_run_config(cfg)


def write_run_config(cfg: RunConfig) -> None:
    """The run's resolved config.yaml in its run folder (what `train` / `eval` of this run will read)."""
    config = cfg.model_dump(mode="json")
    atomic_write_text(cfg.output.dir / "config.yaml", yaml.safe_dump(config, sort_keys=False))


def pending_tasks(tasks: Sequence[ShardTask], manifest: Manifest, stats: BuildStats) -> list[ShardTask]:
    """Tasks whose shard is not yet listed with a matching file; counts the finished ones into `stats`."""
    todo = []
    for task in tasks:
        entry = manifest.get(task.split, task.index)
        if entry is not None and entry.n_groups == len(task.drafts) and manifest.problem(entry) is None:
            stats.add_shard(task.split, [s.group for s in index_shard(manifest.shard_path(entry))])
        else:
            todo.append(task)
    return todo


RAW_SUFFIX = "-raw"
"""With `images.gate`, the raw build lives beside the dataset folder: <dataset folder>-raw."""


def run_build(cfg: RunConfig) -> Path:
    """Builds (or resumes) the dataset of `cfg` in `cfg.dataset_dir` and returns that folder.

    With `images.gate` the build is two resumable steps: the raw build into <dataset folder>-raw, then
    `synthmphn gate` of it (the `gate.*` settings) into the dataset folder, which train and eval read.
    """
    if not cfg.images.gate:
        return build_dataset(cfg)
    cfg = trainable_gate_config(cfg)
    check_attributes(cfg, None)  # refusals that need no build come before it
    check_gate_output(cfg.dataset_dir)
    raw = build_dataset(raw_build_config(cfg))
    gated = run_gate(raw, cfg.dataset_dir, cfg)
    write_run_config(cfg)  # the run's config is the gated one, not the raw build's
    return gated


def trainable_gate_config(cfg: RunConfig) -> RunConfig:
    """`cfg` with `gate.min_images` raised to `train.images_per_caption`, so the gated dataset keeps no caption
    with fewer images than a batch slot of the same run takes (train would refuse such a dataset). The run's
    config.yaml and the gate summary record the value used."""
    if cfg.gate.min_images >= cfg.train.images_per_caption:
        return cfg
    raised = cfg.model_copy(deep=True)
    raised.gate.min_images = cfg.train.images_per_caption
    return raised


def raw_build_config(cfg: RunConfig) -> RunConfig:
    """The config of the raw build behind a gated one: `images.gate` off, dataset at <dataset folder>-raw
    (so its build identity is the ungated build's, and an ungated run can share the raw folder)."""
    raw = cfg.model_copy(deep=True)
    raw.images.gate = False
    raw.train.data = cfg.dataset_dir.with_name(cfg.dataset_dir.name + RAW_SUFFIX)
    return raw


def build_dataset(cfg: RunConfig) -> Path:
    """Builds (or resumes) the ungated dataset of `cfg` in `cfg.dataset_dir` and returns that folder."""
    started = time.perf_counter()
    dataset_dir = cfg.dataset_dir
    with undone_unless_a_shard_exists(dataset_dir, cfg.output.dir):  # a refusal leaves the folders as found
        plans = prepare(cfg)
        with build_lock(dataset_dir):
            resuming = check_existing_dataset(dataset_dir, stage_identity(cfg, "build"))
            remove_stale_temp_files(dataset_dir)
            for plan in plans.values():  # creating the pool validates models and paths before any captions
                generator_pool(plan.pool, cfg.images)
            cached = load_captions(dataset_dir) if resuming else None  # a resumed LLM build keeps them
            captions = cached if cached is not None else generate_captions(cfg)
            check_draft_ids(captions)
            write_metadata(cfg, captions, fresh_captions=cached is None)
            setup_s = time.perf_counter() - started  # validation, generator pools, captions
            summary = render_all(cfg, captions, plans, started, setup_s)
    print(format_summary(summary), file=sys.stderr)
    return dataset_dir


def render_all(
    cfg: RunConfig, captions: Captions, plans: dict[str, RenderPlan], started: float, setup_s: float
) -> dict[str, Any]:
    """Renders every pending shard, keeping the manifest current, and writes the summary."""
    manifest = Manifest.load(cfg.dataset_dir, missing_ok=True)
    tasks = shard_tasks(cfg, captions.drafts, plans)
    stats = BuildStats()
    todo = pending_tasks(tasks, manifest, stats)
    total = sum(len(t.drafts) for t in tasks)
    rendered = {"groups": 0, "images": 0}
    render_start = time.perf_counter()
    bar = progress(total=total, initial=total - sum(len(t.drafts) for t in todo), desc="build", unit="group")

    def on_groups(n_groups: int, n_images: int) -> None:
        rendered["groups"] += n_groups
        rendered["images"] += n_images
        bar.update(n_groups)
        elapsed = max(time.perf_counter() - render_start, 1e-9)
        bar.set_postfix_str(f"{rendered['images'] / elapsed:.0f} images/s", refresh=False)

    def on_result(result: ShardResult) -> None:
        manifest.add(result.entry)
        manifest.save()
        stats.merge(result.stats)

    engine, workers = choose_engine(cfg.images, len(todo))
    try:
        engine(todo, workers, on_result, on_groups)
    finally:
        bar.close()
    wall = time.perf_counter() - started
    run = throughput(rendered, len(tasks), len(todo), wall, setup_s, time.perf_counter() - render_start)
    summary = summary_of(stats, list(captions.drafts), captions.rejections, run, cfg)
    atomic_write_json(cfg.dataset_dir / SUMMARY_NAME, summary)
    return summary
