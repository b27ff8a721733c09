"""Running a grid: build each distinct dataset once, train + evaluate the unfinished cells, write the results.

A cell whose `eval/metrics.json` records a complete eval is finished and skipped, so a killed grid resumes where it stopped; a
cell equal to a finished run of a sibling grid is copied, not retrained (`experiment.twins`). The results
tables themselves are drawn by `report.experiment`.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import synthmphn.analyse  # noqa: F401  (registers the embedded reference of the generators task)
from synthmphn.build import run_build
from synthmphn.config import RunConfig, config_to_dict
from synthmphn.eval.runner import failed_tasks, run_eval
from synthmphn.experiment.spec import (
    GATE_SUFFIX,
    RECAP_SUFFIX,
    ExperimentSpec,
    PlannedRun,
    check_cells,
    dataset_dir,
    load_experiment,
    paired_design_line,
    plan_grid,
    run_config,
    select_variants,
    source_key,
)
from synthmphn.experiment.twins import copy_finished_run, finished_runs, run_fingerprint
from synthmphn.gate import run_gate
from synthmphn.io import read_json
from synthmphn.progress import progress
from synthmphn.provenance import write_config, write_run_info
from synthmphn.recaption.pipeline import run_recaption
from synthmphn.report.aggregate import AGGREGATE
from synthmphn.report.experiment import Claim, GridResults, run_numbers, write_experiment_results
from synthmphn.train.budget import images_per_step
from synthmphn.train.loop import run_training


def build_datasets(spec: ExperimentSpec, datasets: dict[str, RunConfig], recaptioned: bool) -> None:
    """Builds each distinct dataset once (build itself resumes and skips finished shards).

    Raw and gated datasets come first (the gate's reference is fixed, not a trained cell; a gated dataset
    is `run_gate` of its raw build, which resumes too); recaptioned ones (`recaptioned=True`) after the raw
    runs have trained, because their CLIP filter scores with a raw model (`recaption.scorer_checkpoint`,
    usually a raw run's last.pt).
    """
    for key, cfg in datasets.items():
        if key.endswith(RECAP_SUFFIX) != recaptioned:
            continue
        raw_key = source_key(cfg)
        raw_cfg = cfg.model_copy(deep=True)
        raw_cfg.output.dir = spec.output / "datasets" / raw_key
        raw_cfg.train.data = dataset_dir(spec, raw_key)
        run_build(raw_cfg)
        if recaptioned:
            recap_cfg = raw_cfg.model_copy(deep=True)
            recap_cfg.output.dir = spec.output / "datasets" / key
            run_recaption(dataset_dir(spec, raw_key), dataset_dir(spec, key), recap_cfg)
        elif key.endswith(GATE_SUFFIX):
            gate_cfg = raw_cfg.model_copy(deep=True)
            gate_cfg.output.dir = spec.output / "datasets" / key
            run_gate(dataset_dir(spec, raw_key), dataset_dir(spec, key), gate_cfg)


def run_one(spec_path: str, variant: str, seed: int, extra: tuple[str, ...], threads: int | None) -> str:
    """Trains and evaluates one cell (a separate process under --jobs); returns its metrics path."""
    spec = load_experiment(Path(spec_path))
    thread_override = [f"train.threads={threads}"] if threads else []
    cfg = run_config(spec, variant, seed, [*extra, *thread_override])
    write_config(cfg.output.dir, config_to_dict(cfg))
    run_training(cfg, resume=True)
    return str(run_eval(cfg))


def run_experiment(path: Path, jobs: int = 1, variants: list[str] | None = None) -> Path:
    """Runs the grid in `path` (resuming finished cells), writes results.{md,csv,json} and the report;
    `variants` cuts the grid to those variants and the claims between them (`spec.select_variants`)."""
    spec = select_variants(load_experiment(path), variants, path)
    check_cells(spec, path)  # every cell valid before any dataset is built or any cell trains
    runs, datasets = plan_grid(spec)
    spec.output.mkdir(parents=True, exist_ok=True)
    write_run_info(spec.output, spec.model_dump(mode="json"), spec.seeds[0], "experiment")
    bar = progress(total=len(runs), desc=f"experiment {spec.name}", unit="run")
    for recaptioned in (False, True):
        build_datasets(spec, datasets, recaptioned)
        phase = [r for r in runs if r.dataset_key.endswith(RECAP_SUFFIX) == recaptioned]
        run_cells(path, spec, phase, jobs, bar)
    bar.close()
    results = write_results(spec, runs)
    incomplete = [
        f"{r.variant}/seed{r.seed} ({', '.join(cell_failures(r))})" for r in runs if cell_failures(r)
    ]
    if incomplete:
        raise RuntimeError(
            f"{len(incomplete)} cell(s) have an incomplete eval: {'; '.join(incomplete)}; {results} shows "
            "what they have; rerun the experiment to redo them"
        )
    return results


def cell_failures(run: PlannedRun) -> list[str]:
    """The eval tasks that failed in a cell (`eval.runner.failed_tasks`); empty when the cell is finished."""
    return failed_tasks(run.run_dir / "eval" / "metrics.json")


def run_cells(path: Path, spec: ExperimentSpec, runs: list[PlannedRun], jobs: int, bar: Any) -> None:
    """Trains + evaluates the cells not finished yet (finished = eval/metrics.json records a complete eval;
    an incomplete one is evaluated again); a cell equal to a finished run of a sibling grid is copied from it
    instead (see `experiment.twins`)."""
    done = [r for r in runs if not cell_failures(r)]
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


def headline_names(runs: list[PlannedRun]) -> list[str]:
    """The default table rows: the multi-task aggregate, then the first run's headline metrics."""
    return [AGGREGATE, *read_json(runs[0].run_dir / "eval" / "metrics.json").get("headline", {})]


def write_results(spec: ExperimentSpec, runs: list[PlannedRun]) -> Path:
    """Writes results.md/.csv/.json, claims.csv and the HTML report (plots + per-run tables) into the
    output folder."""
    grid = GridResults(
        name=spec.name,
        seeds=spec.seeds,
        metrics=spec.metrics or headline_names(runs),
        variants=list(spec.variants),
        run_dirs=[r.run_dir for r in runs],
        images_per_step={
            r.variant: images_per_step(run_config(spec, r.variant, r.seed, list(r.overrides)).train)
            for r in runs
        },
        claims=tuple(Claim(c.name, c.better, c.worse, c.metric) for c in spec.claims),
        interval=spec.interval,
        design=paired_design_line(spec, runs),
    )
    return write_experiment_results(spec.output, grid, collect_metrics(runs))
