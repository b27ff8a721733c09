"""`synthmphn eval RUN`: load the trained checkpoint, run every configured task, write metrics.json.

`RUN/eval/metrics.json` holds
    headline  flat `<task>/<metric>` numbers users compare first (real digits zero-shot and probe, ...)
    headline_scopes  headline metric -> "shared" (the same set for every variant of a grid: real sets, the
              held-out style, held-out captions drawn by `splits.reference_pool`) or "in-domain" (held-out
              captions drawn by the run's own pool); see eval/sets.py
    eval_sets {set: {scope, kind, pool, fingerprint}} for every set read (eval/sets.py)
    tasks     {task: {metrics, tables, plots (file names next to metrics.json), errors, skipped, seconds}}
              or {task: {error, seconds}} when the whole task failed
    errors    {task: [messages]} for everything that failed (also printed to stderr)
    complete  true when no task (and no source inside a task) failed; `failed_tasks` lists those that did
    checkpoint, model, dataset_dir
The zero-shot and retrieval numbers are also written in CLIP_benchmark's layout, one JSON file per
(dataset, task) in `clip_benchmark/` (see eval/clip_benchmark.py).
A failing task (or one failing source inside a task) is recorded and the others still run, so a broken
user dataset never hides the real-digit results; `synthmphn eval` then exits 1 naming the failed tasks,
and experiment grids redo a cell whose eval is not complete (`failed_tasks`). Plots and provenance
(config.yaml, run_info.json) are written next to metrics.json.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from synthmphn.config import RunConfig, config_to_dict
from synthmphn.eval.base import EVAL_TASKS, Encoder, TaskResult
from synthmphn.eval.clip_benchmark import write_clip_benchmark_results
from synthmphn.eval.features import CachedEncoder
from synthmphn.eval.linear_probe import probed_sets
from synthmphn.eval.sets import eval_sets, metric_set
from synthmphn.eval.zeroshot import zeroshot_sets
from synthmphn.io import atomic_write_json, read_json
from synthmphn.models.checkpoint import model_from_checkpoint
from synthmphn.models.encoder import ClipEncoder
from synthmphn.models.factory import create_clip
from synthmphn.progress import progress
from synthmphn.provenance import write_run_info

HEADLINE = (
    "zeroshot/digits/acc1",
    "zeroshot/digits/acc5",
    "linear_probe/digits_acc",
    "zeroshot/mnist/acc1",
    "linear_probe/mnist_acc",
    "zeroshot/fashion_mnist/acc1",
    "linear_probe/fashion_mnist_acc",
    "zeroshot/heldout/acc1",
    "zeroshot/heldout_style/acc1",
    "linear_probe/heldout_style_acc",
    "retrieval/i2t_r1",
    "retrieval/t2i_r1",
    "retrieval/i2t_r5",
    "retrieval/t2i_r5",
    "compositional/text_acc",
    "compositional/image_acc",
    "compositional/sugarcrepe/acc",
    "diagnostics/alignment",
    "diagnostics/modality_gap",
)
"""Headline metrics in display order; user datasets' `zeroshot/<name>/acc1` and probe accuracy follow."""


def headline_metrics(tasks: dict[str, dict[str, Any]], user_sets: list[str]) -> dict[str, float]:
    """The flat headline numbers present in the task results."""
    flat = {
        f"{task}/{name}": value
        for task, entry in tasks.items()
        for name, value in entry.get("metrics", {}).items()
    }
    keys = list(HEADLINE)
    for name in user_sets:
        keys += [f"zeroshot/{name}/acc1", f"linear_probe/{name}_acc"]
    return {key: flat[key] for key in keys if key in flat}


def headline_scopes(headline: dict[str, float], sets: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Headline metric -> "shared" / "in-domain": the scope of the eval set it was measured on."""
    scopes = {}
    for key in headline:
        name = metric_set(key, sets)
        if name is not None:
            scopes[key] = sets[name]["scope"]
    return scopes


def checkpoint_path(cfg: RunConfig) -> Path | None:
    """`eval.checkpoint`: "last" -> RUN/train/checkpoints/last.pt; "none" -> None (`eval.model_name` as it
    loads, e.g. a `local-dir:` folder with its weights); otherwise a path (relative to cwd or RUN)."""
    if cfg.eval.checkpoint == "none":
        if cfg.eval.model_name is None:
            raise ValueError(
                "eval.checkpoint=none evaluates eval.model_name as it loads; set eval.model_name"
            )
        return None
    if cfg.eval.checkpoint == "last":
        path = cfg.train_dir / "checkpoints" / "last.pt"
    else:
        path = Path(cfg.eval.checkpoint)
        if not path.is_absolute() and not path.exists():
            path = cfg.output.dir / path
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: checkpoint not found (train the run first, or set eval.checkpoint=PATH)"
        )
    return path


def load_encoder(cfg: RunConfig, checkpoint: Path | None) -> Encoder:
    """The model in `checkpoint` (ours or any open_clip one; architecture `eval.model_name` when the file
    records none), or `eval.model_name` as open_clip loads it when `checkpoint` is None, as an encoder."""
    if checkpoint is None:
        assert cfg.eval.model_name is not None  # checkpoint_path checked it
        parts = create_clip(cfg.eval.model_name, device=cfg.eval.device, augment=False)
    else:
        parts = model_from_checkpoint(checkpoint, device=cfg.eval.device, model_name=cfg.eval.model_name)
    return ClipEncoder(parts, device=cfg.eval.device, batch_size=cfg.eval.batch_size)


def _relative(path: Path, root: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def result_entry(result: TaskResult, out_dir: Path, seconds: float) -> dict[str, Any]:
    """A task's JSON entry: metrics, tables, plots (relative to the eval folder), errors, skipped splits, seconds."""
    return {
        "metrics": result.metrics,
        "tables": result.tables,
        "plots": {name: _relative(path, out_dir) for name, path in result.plots.items()},
        "errors": result.errors,
        "skipped": result.skipped,
        "seconds": round(seconds, 3),
    }


def run_task(name: str, encoder: Encoder, cfg: RunConfig) -> dict[str, Any]:
    """Runs one registered task; any exception becomes `{"error": message}`."""
    start = time.perf_counter()
    try:
        result = EVAL_TASKS.get(name)(encoder, cfg.dataset_dir, cfg.eval_dir, cfg.eval)
    except Exception as err:  # noqa: BLE001 - a failing task must not stop the others
        return {"error": f"{type(err).__name__}: {err}", "seconds": round(time.perf_counter() - start, 3)}
    return result_entry(result, cfg.eval_dir, time.perf_counter() - start)


def collect_errors(tasks: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """{task: messages} for failed tasks and failed sources inside tasks."""
    errors = {}
    for name, entry in tasks.items():
        messages = ([entry["error"]] if "error" in entry else []) + entry.get("errors", [])
        if messages:
            errors[name] = messages
    return errors


def run_eval(cfg: RunConfig, encoder: Encoder | None = None) -> Path:
    """Evaluates the run's checkpoint (or `encoder`) on `eval.tasks`; returns the metrics.json path."""
    for name in cfg.eval.tasks:
        EVAL_TASKS.get(name)  # unknown names fail before any work, listing the known tasks
    probed_sets(zeroshot_sets(cfg.dataset_dir, cfg.eval), cfg.eval.probe_sets)  # so do unknown probe sets
    checkpoint = None
    if encoder is None:
        checkpoint = checkpoint_path(cfg)
        encoder = load_encoder(cfg, checkpoint)
    model_name = getattr(getattr(encoder, "parts", None), "name", None)
    encoder = CachedEncoder(encoder)  # tasks share images (real digits, held-out splits): encode each once
    out_dir = cfg.eval_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    tasks: dict[str, dict[str, Any]] = {}
    bar = progress(cfg.eval.tasks, total=len(cfg.eval.tasks), desc="eval", unit="task")
    for name in bar:
        bar.set_postfix_str(name)
        tasks[name] = run_task(name, encoder, cfg)
    errors = collect_errors(tasks)
    headline = headline_metrics(tasks, [d.name for d in cfg.eval.datasets])
    sets = eval_sets(cfg.dataset_dir, cfg.eval)
    metrics = {
        "headline": headline,
        "headline_scopes": headline_scopes(headline, sets),
        "eval_sets": sets,
        "tasks": tasks,
        "errors": errors,
        "complete": not errors,
        "failed_tasks": sorted(errors),
        "checkpoint": str(checkpoint) if checkpoint else None,
        "model": model_name,
        "dataset_dir": str(cfg.dataset_dir),
    }
    path = out_dir / "metrics.json"
    atomic_write_json(path, metrics)
    write_clip_benchmark_results(out_dir, tasks, model_name or "unknown", str(checkpoint or "none"))
    write_run_info(out_dir, config_to_dict(cfg), cfg.seed, "eval")
    for name, messages in errors.items():
        for message in messages:
            print(f"eval: {name}: {message}", file=sys.stderr)
    return path


def failed_tasks(metrics_path: Path) -> list[str]:
    """The tasks an eval's metrics.json records as failed (all of them when it predates `complete`).

    An unreadable or missing file counts as one failure, named "metrics.json", so callers redo the eval.
    """
    try:
        metrics = read_json(metrics_path)
    except (FileNotFoundError, ValueError):
        return ["metrics.json"]
    if not isinstance(metrics, dict):
        return ["metrics.json"]
    if "complete" not in metrics:  # written before completeness was recorded: judge by its errors
        return sorted(metrics.get("errors") or {})
    return [] if metrics["complete"] else sorted(metrics.get("failed_tasks") or metrics.get("errors") or {})
