"""Item 3, grid side: a cell whose eval is incomplete is not finished: the grid evaluates it again, never
copies it to a twin, and exits non-zero naming it while it stays incomplete."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from faults import write_grid

from synthmphn.config import config_to_dict
from synthmphn.experiment import runner
from synthmphn.experiment.spec import ExperimentSpec, PlannedRun, load_experiment, plan_grid, run_config
from synthmphn.experiment.twins import finished_runs
from synthmphn.provenance import write_config


class Bar:
    def __init__(self) -> None:
        self.n = 0

    def update(self, n: int) -> None:
        self.n += n


def grid(tmp_path: Path, base: str) -> tuple[Path, ExperimentSpec, list[PlannedRun]]:
    """A two-cell grid (variants `done` and `broken`, seed 0): its file, spec and planned cells."""
    variants = {"done": ["train.loss=mpclip"], "broken": ["train.loss=tripletclip-sym"]}
    path = write_grid(tmp_path, base, variants, extra="share_runs: false\n")
    spec = load_experiment(path)
    return path, spec, plan_grid(spec)[0]


def write_metrics(run_dir: Path, complete: bool) -> None:
    (run_dir / "eval").mkdir(parents=True, exist_ok=True)
    metrics = {
        "headline": {"retrieval/i2t_r1": 0.5} if complete else {},
        "tasks": {},
        "errors": {} if complete else {"retrieval": ["ShardError: heldout-000000.tar: corrupt"]},
        "complete": complete,
        "failed_tasks": [] if complete else ["retrieval"],
    }
    (run_dir / "eval" / "metrics.json").write_text(json.dumps(metrics))


def test_an_incomplete_cell_is_evaluated_again(
    tmp_path: Path, tiny_grid_base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, spec, runs = grid(tmp_path, tiny_grid_base)
    write_metrics(runs[0].run_dir, complete=True)
    write_metrics(runs[1].run_dir, complete=False)
    redone: list[str] = []
    monkeypatch.setattr(runner, "run_one", lambda _p, variant, *args: redone.append(variant))
    bar = Bar()
    runner.run_cells(path, spec, runs, 1, bar)
    assert redone == ["broken"] and bar.n == 2
    assert runner.cell_failures(runs[1]) == ["retrieval"] and runner.cell_failures(runs[0]) == []


def test_a_grid_that_stays_incomplete_exits_naming_the_cell(
    tmp_path: Path, tiny_grid_base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, spec, runs = grid(tmp_path, tiny_grid_base)
    monkeypatch.setattr(runner, "build_datasets", lambda *args: None)
    monkeypatch.setattr(runner, "write_results", lambda *args: spec.output / "results.md")
    monkeypatch.setattr(
        runner,
        "run_one",
        lambda _p, variant, *args: write_metrics(spec.output / variant / "seed0", variant == "done"),
    )
    with pytest.raises(
        RuntimeError, match=r"1 cell\(s\) have an incomplete eval: broken/seed0 \(retrieval\)"
    ):
        runner.run_experiment(path)


def test_twins_index_only_complete_runs(tmp_path: Path, tiny_grid_base: str) -> None:
    _, spec, runs = grid(tmp_path, tiny_grid_base)
    for run, complete in zip(runs, (True, False), strict=True):
        write_config(
            run.run_dir, config_to_dict(run_config(spec, run.variant, run.seed, list(run.overrides)))
        )
        write_metrics(run.run_dir, complete)
    assert sorted(finished_runs(tmp_path).values()) == [runs[0].run_dir]
