"""Experiment grids: runs that differ in one factor, several seeds, one table that says what won.

An experiment YAML names a base run config, overrides shared by every run, named variants (each a list of
overrides, optionally `recaption: true`), and seeds:

    name: msm
    base: ../quickstart.yaml          # relative to this file
    output: runs/experiments/msm
    overrides: [train.steps=300]
    seeds: [0, 1, 2]
    data_seed: 0                      # datasets are shared across seeds (null: data seed = run seed)
    metrics: [zeroshot/digits/acc1, compositional/text/colour]  # optional rows (default: the headline); any
                                      # `<task>/<metric>` of eval/metrics.json
    variants:
      single-flat: [images.strategy=single, "images.pool=[procedural:flat]"]
      msm-all: []

Each distinct dataset (build-relevant config sections) is built once under `<output>/datasets/<hash>/` and
shared by every run that uses it. Run `<variant>/seed<k>/` trains, then evaluates; a run whose
`eval/metrics.json` exists is finished and skipped, so a killed grid resumes where it stopped. A run equal to
a finished run of another grid in the same parent folder is copied, not retrained (`experiment_twins`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from synthmphn.config import RunConfig, config_to_dict, load_config
from synthmphn.experiment_twins import copy_finished_run, finished_runs, run_fingerprint
from synthmphn.io import atomic_write_json, atomic_write_text, read_json
from synthmphn.progress import progress
from synthmphn.provenance import write_config, write_run_info

BUILD_SECTIONS = ("seed", "captions", "images", "shards", "splits")


class VariantSpec(BaseModel):
    """One variant: overrides applied on top of the base, and whether its dataset is recaptioned."""

    model_config = ConfigDict(extra="forbid")

    overrides: list[str] = Field(default_factory=list)
    recaption: bool = False


class ExperimentSpec(BaseModel):
    """The experiment YAML, validated (unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    base: Path | None = None
    output: Path
    overrides: list[str] = Field(default_factory=list)
    seeds: list[int] = Field(default_factory=lambda: [0])
    data_seed: int | None = 0
    metrics: list[str] | None = None
    share_runs: bool = True
    variants: dict[str, VariantSpec]

    @field_validator("variants", mode="before")
    @classmethod
    def _lists_are_overrides(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: {"overrides": v} if isinstance(v, list) or v is None else v for k, v in value.items()}
        return value

    @field_validator("variants")
    @classmethod
    def _not_empty(cls, value: dict[str, VariantSpec]) -> dict[str, VariantSpec]:
        if not value:
            raise ValueError("an experiment needs at least one variant")
        return value


@dataclass(frozen=True)
class PlannedRun:
    """One (variant, seed) cell of the grid and where its dataset comes from."""

    variant: str
    seed: int
    run_dir: Path
    dataset_key: str
    overrides: tuple[str, ...]


def load_experiment(path: Path) -> ExperimentSpec:
    """Reads and validates an experiment YAML; `base` resolves relative to the YAML's folder, `output` to the cwd."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: experiment file not found") from None
    try:
        spec = ExperimentSpec.model_validate(raw)
    except Exception as err:
        raise ValueError(f"{path}: {err}") from None
    folder = Path(path).parent
    base = spec.base if spec.base is None or spec.base.is_absolute() else folder / spec.base
    return spec.model_copy(update={"base": base})


def run_config(spec: ExperimentSpec, variant: str, seed: int, extra: list[str] | None = None) -> RunConfig:
    """The RunConfig of one cell: base YAML + shared overrides + variant overrides + seed."""
    overrides = [*spec.overrides, *spec.variants[variant].overrides, f"seed={seed}", *(extra or [])]
    return load_config(spec.base, overrides)


def dataset_key(cfg: RunConfig, recaption: bool) -> str:
    """A short hash of the config sections that decide the dataset (runs with equal keys share it)."""
    dumped = cfg.model_dump(mode="json")
    build_part = {k: dumped[k] for k in BUILD_SECTIONS}
    if recaption:
        build_part["recaption"] = dumped["recaption"]
    text = json.dumps(build_part, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def plan_grid(spec: ExperimentSpec) -> tuple[list[PlannedRun], dict[str, RunConfig]]:
    """Every (variant, seed) run and the build config of each distinct dataset, keyed by dataset hash."""
    runs: list[PlannedRun] = []
    datasets: dict[str, RunConfig] = {}
    for variant, vspec in spec.variants.items():
        for seed in spec.seeds:
            data_seed = seed if spec.data_seed is None else spec.data_seed
            build_cfg = run_config(spec, variant, data_seed)
            key = dataset_key(build_cfg, vspec.recaption) + ("-recap" if vspec.recaption else "")
            datasets.setdefault(key, build_cfg)
            data_dir = dataset_dir(spec, key)
            run_dir = spec.output / variant / f"seed{seed}"
            extra = (f"output.dir={run_dir}", f"train.data={data_dir}")
            runs.append(PlannedRun(variant, seed, run_dir, key, (*extra,)))
    return runs, datasets


def dataset_dir(spec: ExperimentSpec, key: str) -> Path:
    """Where the shared dataset with this key lives."""
    return spec.output / "datasets" / key / "dataset"


def build_datasets(spec: ExperimentSpec, datasets: dict[str, RunConfig], recaptioned: bool) -> None:
    """Builds each distinct dataset once (build itself resumes and skips finished shards).

    Raw datasets come first; recaptioned ones (`recaptioned=True`) after the raw runs have trained, because
    their CLIP filter scores with a raw model (`recaption.scorer_checkpoint`, usually a raw run's last.pt).
    """
    from synthmphn.build import run_build

    for key, cfg in datasets.items():
        if key.endswith("-recap") != recaptioned:
            continue
        raw_key = key.removesuffix("-recap")
        raw_cfg = cfg.model_copy(deep=True)
        raw_cfg.output.dir = spec.output / "datasets" / raw_key
        raw_cfg.train.data = dataset_dir(spec, raw_key)
        run_build(raw_cfg)
        if recaptioned:
            from synthmphn.recaption.pipeline import run_recaption

            recap_cfg = raw_cfg.model_copy(deep=True)
            recap_cfg.output.dir = spec.output / "datasets" / key
            run_recaption(dataset_dir(spec, raw_key), dataset_dir(spec, key), recap_cfg)


def run_one(spec_path: str, variant: str, seed: int, extra: tuple[str, ...], threads: int | None) -> str:
    """Trains and evaluates one cell (a separate process under --jobs); returns its metrics path."""
    from synthmphn.eval.runner import run_eval
    from synthmphn.train.loop import run_training

    spec = load_experiment(Path(spec_path))
    thread_override = [f"train.threads={threads}"] if threads else []
    cfg = run_config(spec, variant, seed, [*extra, *thread_override])
    write_config(cfg.output.dir, config_to_dict(cfg))
    run_training(cfg, resume=True)
    return str(run_eval(cfg))


def run_experiment(path: Path, jobs: int = 1) -> Path:
    """Runs the grid in `path` (resuming finished cells), writes results.{md,csv,json} and the report."""
    spec = load_experiment(path)
    runs, datasets = plan_grid(spec)
    spec.output.mkdir(parents=True, exist_ok=True)
    write_run_info(spec.output, spec.model_dump(mode="json"), spec.seeds[0], "experiment")
    bar = progress(total=len(runs), desc=f"experiment {spec.name}", unit="run")
    for recaptioned in (False, True):
        build_datasets(spec, datasets, recaptioned)
        phase = [r for r in runs if r.dataset_key.endswith("-recap") == recaptioned]
        run_cells(path, spec, phase, jobs, bar)
    bar.close()
    return write_results(spec, runs)


def run_cells(path: Path, spec: ExperimentSpec, runs: list[PlannedRun], jobs: int, bar: Any) -> None:
    """Trains + evaluates the cells not finished yet (finished = eval/metrics.json exists); a cell equal to a
    finished run of a sibling grid is copied from it instead (see `experiment_twins`)."""
    done = [r for r in runs if (r.run_dir / "eval" / "metrics.json").exists()]
    bar.update(len(done))
    todo = [r for r in runs if r not in done]
    if spec.share_runs:
        todo = copy_twins(spec, todo, bar)
    if jobs > 1:
        threads = max(1, (os.cpu_count() or 1) // jobs)
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(run_one, str(path), r.variant, r.seed, r.overrides, threads) for r in todo]
            for future in futures:
                future.result()
                bar.update(1)
        return
    for r in todo:
        run_one(str(path), r.variant, r.seed, r.overrides, None)
        bar.update(1)


def copy_twins(spec: ExperimentSpec, todo: list[PlannedRun], bar: Any) -> list[PlannedRun]:
    """Copies every cell that has a finished twin under the grid's parent folder; returns the rest."""
    index = finished_runs(spec.output.parent)
    left = []
    for r in todo:
        cfg = run_config(spec, r.variant, r.seed, list(r.overrides))
        twin = index.get(run_fingerprint(cfg))
        if twin is None:
            left.append(r)
            continue
        copy_finished_run(twin, cfg)
        bar.update(1)
    return left


def collect_metrics(runs: list[PlannedRun]) -> dict[str, dict[int, dict[str, float]]]:
    """variant -> seed -> every number of the run's eval/metrics.json, flat as `<task>/<metric>`."""
    table: dict[str, dict[int, dict[str, float]]] = {}
    for r in runs:
        table.setdefault(r.variant, {})[r.seed] = run_numbers(read_json(r.run_dir / "eval" / "metrics.json"))
    return table


def run_numbers(metrics: dict[str, Any]) -> dict[str, float]:
    """The headline plus every task's own numbers (e.g. `compositional/text/colour`, `retrieval/i2t_r10`),
    so an experiment's `metrics:` list can name any of them."""
    flat = {
        f"{task}/{name}": float(value)
        for task, entry in metrics.get("tasks", {}).items()
        for name, value in (entry.get("metrics") or {}).items()
        if _is_number(value)
    }
    flat.update({k: float(v) for k, v in metrics.get("headline", {}).items() if _is_number(v)})
    return flat


def headline_names(runs: list[PlannedRun]) -> list[str]:
    """The default table rows: the first run's headline metrics."""
    return list(read_json(runs[0].run_dir / "eval" / "metrics.json").get("headline", {}))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def summarise(
    table: dict[str, dict[int, dict[str, float]]], metrics: list[str] | None
) -> list[dict[str, Any]]:
    """Rows of (metric, variant, mean, std, n) over seeds; std is the sample std (ddof=1), 0 for one seed."""
    names = metrics or sorted({m for seeds in table.values() for vals in seeds.values() for m in vals})
    rows = []
    for metric in names:
        for variant, seeds in table.items():
            values = np.array([vals[metric] for vals in seeds.values() if metric in vals], dtype=float)
            if values.size == 0:
                continue
            std = float(values.std(ddof=1)) if values.size > 1 else 0.0
            rows.append(
                {
                    "metric": metric,
                    "variant": variant,
                    "mean": float(values.mean()),
                    "std": std,
                    "n": int(values.size),
                }
            )
    return rows


def results_markdown(rows: list[dict[str, Any]], variants: list[str]) -> str:
    """A markdown table: one row per metric, one column per variant (mean ± std), best mean in bold."""
    metrics = list(dict.fromkeys(r["metric"] for r in rows))
    cell = {(r["metric"], r["variant"]): r for r in rows}
    lines = ["| metric | " + " | ".join(variants) + " |", "|---|" + "---|" * len(variants)]
    for metric in metrics:
        present = [cell[(metric, v)]["mean"] for v in variants if (metric, v) in cell]
        best = max(present) if present else None
        cells = []
        for v in variants:
            r = cell.get((metric, v))
            if r is None:
                cells.append("–")
                continue
            text = f"{r['mean']:.3f} ± {r['std']:.3f}"
            cells.append(
                f"**{text}**" if best is not None and r["mean"] == best and len(present) > 1 else text
            )
        lines.append(f"| {metric} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def results_csv(rows: list[dict[str, Any]]) -> str:
    """The summary rows as CSV (metric, variant, mean, std, n)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["metric", "variant", "mean", "std", "n"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_results(spec: ExperimentSpec, runs: list[PlannedRun]) -> Path:
    """Writes results.md/.csv/.json and the HTML report (plots + per-run tables) into the output folder."""
    from synthmphn.report.experiment import write_experiment_report

    table = collect_metrics(runs)
    variants = list(spec.variants)
    rows = summarise(table, spec.metrics or headline_names(runs))
    out = spec.output
    header = f"# Experiment `{spec.name}`\n\nseeds: {spec.seeds}; mean ± sample std over seeds.\n\n"
    atomic_write_text(out / "results.md", header + results_markdown(rows, variants))
    atomic_write_text(out / "results.csv", results_csv(rows))
    atomic_write_json(out / "results.json", {"name": spec.name, "rows": rows, "per_seed": table})
    write_experiment_report(spec.name, rows, variants, [r.run_dir for r in runs], out / "report.html")
    return out / "results.md"
