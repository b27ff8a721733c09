"""How long a grid will take, before it runs: cells × steps × seconds per step, plus evaluation.

    wall ≈ Σ over the cells still to run (steps · s/step + eval s) / jobs

s/step is the one the caller states (`--seconds-per-step`, e.g. read off a short run's
train/metrics.jsonl) or else the median `s_per_step` logged by finished runs of this grid or its sibling
grids (same parent folder) with the same step cost (`step_cost`: model, loss, captions per step, images per
caption, precision; at equal images per step the text tower's share grows with captions per step: 0.9 s for
64 × 2, 1.4 s for 128 × 1, 2.3 s for negclip's 256 × 1 on a 2-core AVX2 CPU), falling back to finished runs
that only take the same images per step (marked "≈" in the printout); eval seconds are the median of the finished
runs' eval/metrics.json task times. Cells with a finished twin (`experiment.twins`) are copied, not counted. Dataset builds are not counted (they are shared and resume). The
estimate sizes `train.steps` so a grid fits the hour it may take (issue #18).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from synthmphn.config import RunConfig, TrainConfig
from synthmphn.eval.runner import failed_tasks
from synthmphn.experiment.spec import ExperimentSpec, plan_grid, run_config
from synthmphn.experiment.twins import finished_runs, run_fingerprint
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
    basis: str = (
        "given"  # where s/step comes from: given, measured (same step cost), images (same images/step)
    )


@dataclass(frozen=True)
class GridEstimate:
    """Cells in the grid, the ones still to run, and the expected wall time (None when s/step is unknown)."""

    cells: int
    todo: list[CellEstimate]
    jobs: int
    copied: int = 0  # cells a finished twin in a sibling grid will be copied from (`experiment.twins`)

    @property
    def wall_s(self) -> float | None:
        """Σ (steps · s/step + eval s) / jobs over the cells still to run."""
        if any(c.s_per_step is None or c.steps is None for c in self.todo):
            return None
        total = sum(c.steps * c.s_per_step + c.eval_s for c in self.todo)  # type: ignore[operator]
        return total / max(1, self.jobs)


StepCost = tuple[str, str, int, int, str]


def step_cost(tc: TrainConfig) -> StepCost:
    """What sets a step's seconds on one machine: model, loss, captions per step, images per caption, precision."""
    return (tc.model.name, tc.loss, tc.batch_size, tc.images_per_caption, tc.precision)


@dataclass
class Measured:
    """Logged s/step of finished runs by step cost and by images per step, and their eval seconds."""

    by_cost: dict[StepCost, list[float]] = field(default_factory=dict)
    by_images: dict[float, list[float]] = field(default_factory=dict)
    evals: list[float] = field(default_factory=list)

    def rate(self, tc: TrainConfig) -> tuple[float | None, str]:
        """The median logged s/step for a cell like `tc`, and its basis ("measured" / "images" / "none")."""
        if logged := self.by_cost.get(step_cost(tc)):
            return statistics.median(logged), "measured"
        if logged := self.by_images.get(images_per_step(tc)):
            return statistics.median(logged), "images"
        return None, "none"


def measured_seconds(root: Path) -> Measured:
    """The logged s/step and eval seconds of the finished runs under `root/<grid>/<variant>/seed<k>/`;
    copied cells (no train log) and unreadable configs add nothing."""
    measured = Measured()
    for metrics_path in sorted(root.glob("*/*/seed*/eval/metrics.json")):
        run_dir = metrics_path.parent.parent
        log = run_dir / "train" / METRICS_NAME
        if failed_tasks(metrics_path) or not log.exists():
            continue
        try:
            raw = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
            tc = RunConfig.model_validate(raw).train
        except (ValueError, OSError):
            continue
        rates = [float(r["s_per_step"]) for r in read_metrics(log) if "s_per_step" in r]
        measured.by_cost.setdefault(step_cost(tc), []).extend(rates)
        measured.by_images.setdefault(images_per_step(tc), []).extend(rates)
        tasks = read_json(metrics_path).get("tasks", {})
        measured.evals.append(sum(float(t.get("seconds", 0.0)) for t in tasks.values()))
    return measured


def estimate_grid(spec: ExperimentSpec, jobs: int = 1, seconds_per_step: float | None = None) -> GridEstimate:
    """The cells of `spec` not finished yet and their expected seconds (module docstring)."""
    runs, _ = plan_grid(spec)
    measured = measured_seconds(spec.output.parent)
    eval_s = statistics.median(measured.evals) if measured.evals else 0.0
    twins = finished_runs(spec.output.parent) if spec.share_runs else {}
    todo, copied = [], 0
    for r in runs:
        if not failed_tasks(r.run_dir / "eval" / "metrics.json"):
            continue  # finished
        cfg = run_config(spec, r.variant, r.seed, list(r.overrides))
        if run_fingerprint(cfg) in twins:
            copied += 1
            continue
        tc = cfg.train
        s_step, basis = (seconds_per_step, "given") if seconds_per_step is not None else measured.rate(tc)
        todo.append(CellEstimate(r.variant, r.seed, tc.steps, images_per_step(tc), s_step, eval_s, basis))
    return GridEstimate(len(runs), todo, jobs, copied)


def format_estimate(spec: ExperimentSpec, estimate: GridEstimate) -> str:
    """A few lines for the terminal: cells, steps, s/step and the expected wall time."""
    todo = estimate.todo
    copied = f", {estimate.copied} copied from finished twins" if estimate.copied else ""
    lines = [
        f"experiment {spec.name}: {estimate.cells} cells, {len(todo)} to run{copied}, {estimate.jobs} job(s)"
    ]
    for variant in dict.fromkeys(c.variant for c in todo):
        cells = [c for c in todo if c.variant == variant]
        c = cells[0]
        approx = "≈" if c.basis == "images" else ""  # measured on another step cost at these images/step
        rate = "s/step unknown" if c.s_per_step is None else f"{approx}{c.s_per_step:.3g} s/step"
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
