"""Reading runs for the report: each RUN/eval/metrics.json (written by `synthmphn eval`) and RUN/config.yaml."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from synthmphn.config import DATASET_FOLDER
from synthmphn.io import read_json

SETUP_KEYS = (
    "train.model.name",
    "train.loss",
    "train.hn_schedule.name",
    "train.steps",
    "train.epochs",
    "images.strategy",
    "images.pool",
    "captions.backend",
    "seed",
)
"""Config values shown in the report's setup table (the factors runs usually differ in)."""


@dataclass
class RunMetrics:
    """One evaluated run: its label in tables, folders, the metrics.json content and a few config values."""

    label: str
    run_dir: Path
    metrics: dict[str, Any]
    setup: dict[str, Any] = field(default_factory=dict)

    @property
    def eval_dir(self) -> Path:
        return self.run_dir / "eval"

    def task(self, name: str) -> dict[str, Any]:
        """The entry of task `name` ({} when the run did not evaluate it)."""
        return self.metrics.get("tasks", {}).get(name, {})

    def task_metrics(self, name: str) -> dict[str, Any]:
        return self.task(name).get("metrics", {})

    def plot_path(self, task: str, plot: str) -> Path | None:
        """The file of one of a task's plots, if it exists."""
        name = self.task(task).get("plots", {}).get(plot)
        if not name:
            return None
        path = Path(name) if Path(name).is_absolute() else self.eval_dir / name
        return path if path.is_file() else None


def lookup(tree: Any, dotted: str) -> Any:
    """tree["a"]["b"] for dotted "a.b"; None where a part is missing."""
    for part in dotted.split("."):
        if not isinstance(tree, dict) or part not in tree:
            return None
        tree = tree[part]
    return tree


def read_run_config(run_dir: Path) -> dict[str, Any]:
    """RUN/config.yaml as a tree (empty when it is missing or unreadable)."""
    try:
        return yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return {}


def read_setup(run_dir: Path) -> dict[str, Any]:
    """The `SETUP_KEYS` values of RUN/config.yaml (empty when it is missing or unreadable)."""
    tree = read_run_config(run_dir)
    return {key: value for key in SETUP_KEYS if (value := lookup(tree, key)) is not None}


def dataset_file(run_dir: Path, name: str) -> Path | None:
    """The file `name` beside the shards of the dataset a run trained on (`train.data`, else the run's own
    dataset folder, as `RunConfig.dataset_dir`), None when missing
    (a stage's summary there: `recaption_summary.json`, `gate_summary.json`)."""
    data = lookup(read_run_config(run_dir), "train.data")
    path = (Path(data) if data else run_dir / DATASET_FOLDER) / name
    return path if path.is_file() else None


def read_recaption_summary(run_dir: Path) -> dict[str, Any] | None:
    """The `recaption_summary.json` of the dataset a run trained on, None when it has none."""
    path = dataset_file(run_dir, "recaption_summary.json")
    return read_json(path) if path is not None else None


def run_labels(run_dirs: list[Path]) -> list[str]:
    """Folder names, widened to parent/name (then the full path) where two runs would share a label."""
    labels = [p.name or str(p) for p in run_dirs]
    for widen in (lambda p: f"{p.parent.name}/{p.name}", str):
        counts = Counter(labels)
        labels = [widen(p) if counts[label] > 1 else label for p, label in zip(run_dirs, labels, strict=True)]
    return labels


def load_runs(run_dirs: list[Path]) -> list[RunMetrics]:
    """Every run's metrics; a run without eval/metrics.json is an error naming it."""
    if not run_dirs:
        raise ValueError("report: give at least one run folder")
    runs = []
    for run_dir, label in zip(run_dirs, run_labels([Path(p) for p in run_dirs]), strict=True):
        run_dir = Path(run_dir)
        path = run_dir / "eval" / "metrics.json"
        if not path.is_file():
            raise FileNotFoundError(f"{run_dir}: no eval/metrics.json; run `synthmphn eval {run_dir}` first")
        runs.append(RunMetrics(label, run_dir, read_json(path), read_setup(run_dir)))
    return runs
