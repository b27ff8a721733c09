"""How long a grid will take, before it runs: cells × steps × seconds per step, plus evaluation.

    wall ≈ Σ over the cells still to run (steps · s/step + eval s) / jobs

s/step is the one the caller states (`--seconds-per-step`, e.g. read off a short run's
train/metrics.jsonl) or else the median `s_per_step` logged by finished runs of this grid or its sibling
grids (same parent folder) that take the same images per step; eval seconds are the median of the finished
runs' eval/metrics.json task times. Dataset builds are not counted (they are shared and resume). The
estimate sizes `train.steps` so a grid fits the hour it may take (issue #18).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

import yaml

from synthmphn.config import RunConfig
from synthmphn.eval.runner import failed_tasks
from synthmphn.experiment.spec import ExperimentSpec, plan_grid, run_config
from synthmphn.io import read_json
from synthmphn.train.budget import images_per_step
from synthmphn.train.logging import METRICS_NAME, read_metrics


@dataclass(frozen=True)
class CellEstimate:
    """One cell still to run: its steps, images per step and the seconds it is expected to take."""

    variant: str
    seed: int
    steps: int | None
    images: float
    s_per_step: float | None
    eval_s: float


@dataclass(frozen=True)
class GridEstimate:
    """Cells in the grid, the ones still to run, and the expected wall time (None when s/step is unknown)."""

    cells: int
    todo: list[CellEstimate]
    jobs: int

    @property
    def wall_s(self) -> float | None:
        """Σ (steps · s/step + eval s) / jobs over the cells still to run."""
        if any(c.s_per_step is None or c.steps is None for c in self.todo):
            return None
        total = sum(c.steps * c.s_per_step + c.eval_s for c in self.todo)  # type: ignore[operator]
        return total / max(1, self.jobs)


def measured_seconds(root: Path) -> tuple[dict[float, list[float]], list[float]]:
    """(images per step -> logged s/step values, eval seconds) of the finished runs under
    `root/<grid>/<variant>/seed<k>/`; copied cells (no train log) and unreadable configs add nothing."""
    per_step: dict[float, list[float]] = {}
    evals: list[float] = []
    for metrics_path in sorted(root.glob("*/*/seed*/eval/metrics.json")):
        run_dir = metrics_path.parent.parent
        log = run_dir / "train" / METRICS_NAME
        if failed_tasks(metrics_path) or not log.exists():
            continue
        try:
            raw = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
            images = images_per_step(RunConfig.model_validate(raw).train)
        except (ValueError, OSError):
            continue
        per_step.setdefault(images, []).extend(
            float(r["s_per_step"]) for r in read_metrics(log) if "s_per_step" in r
        )
        tasks = read_json(metrics_path).get("tasks", {})
        evals.append(sum(float(t.get("seconds", 0.0)) for t in tasks.values()))
    return per_step, evals


def estimate_grid(spec: ExperimentSpec, jobs: int = 1, seconds_per_step: float | None = None) -> GridEstimate:
    """The cells of `spec` not finished yet and their expected seconds (module docstring)."""
    runs, _ = plan_grid(spec)
    per_step, evals = measured_seconds(spec.output.parent)
    eval_s = statistics.median(evals) if evals else 0.0
    todo = []
    for r in runs:
        if not failed_tasks(r.run_dir / "eval" / "metrics.json"):
            continue  # finished
        tc = run_config(spec, r.variant, r.seed, list(r.overrides)).train
        images = images_per_step(tc)
        logged = per_step.get(images)
        s_step = (
            seconds_per_step
            if seconds_per_step is not None
            else (statistics.median(logged) if logged else None)
        )
        todo.append(CellEstimate(r.variant, r.seed, tc.steps, images, s_step, eval_s))
    return GridEstimate(len(runs), todo, jobs)


def format_estimate(spec: ExperimentSpec, estimate: GridEstimate) -> str:
    """A few lines for the terminal: cells, steps, s/step and the expected wall time."""
    todo = estimate.todo
    lines = [f"experiment {spec.name}: {estimate.cells} cells, {len(todo)} to run, {estimate.jobs} job(s)"]
    for variant in dict.fromkeys(c.variant for c in todo):
        cells = [c for c in todo if c.variant == variant]
        c = cells[0]
        rate = "s/step unknown" if c.s_per_step is None else f"{c.s_per_step:.3g} s/step"
        steps = "steps from epochs" if c.steps is None else f"{c.steps} steps"
        lines.append(f"  {variant}: {len(cells)} cell(s) × {steps}, {c.images:g} images/step, {rate}")
    wall = estimate.wall_s
    if wall is None:
        lines.append(
            "estimated wall time: unknown (no finished run measured it); pass --seconds-per-step S, e.g. "
            "the s_per_step a short run logs in train/metrics.jsonl"
        )
    else:
        eval_s = todo[0].eval_s if todo else 0.0
        lines.append(
            f"estimated wall time: {wall / 60:.1f} min ({eval_s:.0f} s eval per cell; dataset builds not counted)"
        )
    return "\n".join(lines)
