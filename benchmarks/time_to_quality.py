"""Time to quality: what the quickstart recipe reaches in a fixed training wall budget.

    python benchmarks/time_to_quality.py [--budget-s 600 | --steps N] [--data DATASET_DIR] [--out DIR]
                                         [--config configs/quickstart.yaml] [key=value ...]

Builds the recipe's dataset (or reuses --data), times a short calibration run (20 steps) to get seconds per
step, then trains ⌊0.95 · budget / (s/step)⌋ steps (the cosine schedule then ends inside the budget, as a
user's run would) and evaluates zero-shot only. Prints the steps, the training wall time and the two numbers
that say whether subjects were learnt: real-digit zero-shot top-1 and held-out-caption zero-shot top-1.
With --steps the run length is fixed instead (compare recipe variants at equal steps on a loaded machine).
Extra key=value arguments override the config (e.g. train.lr=0.001 train.batch_size=128).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from synthmphn.config import load_config
from synthmphn.eval.runner import run_eval

ROOT = Path(__file__).resolve().parents[1]
CALIBRATION_STEPS = 20


def cli(*args: str) -> None:
    """Runs `synthmphn ARGS` in a subprocess (quiet), failing loudly."""
    subprocess.run([sys.executable, "-m", "synthmphn.cli", *args], check=True, stdout=subprocess.DEVNULL)


def seconds_per_step(config: Path, out: Path, data: Path, overrides: list[str]) -> float:
    """Median s_per_step logged by a CALIBRATION_STEPS-step run (its first log window left out)."""
    run = out / "calibration"
    cli(
        "train",
        str(config),
        *overrides,
        f"output.dir={run}",
        f"train.data={data}",
        f"train.steps={CALIBRATION_STEPS}",
        "train.log_every=5",
        f"train.checkpoint_every={CALIBRATION_STEPS}",
    )
    records = [json.loads(line) for line in (run / "train" / "metrics.jsonl").read_text().splitlines()]
    return statistics.median(r["s_per_step"] for r in records[1:])


def evaluate_zeroshot(config: Path, overrides: list[str]) -> dict[str, float]:
    """The zero-shot task's metrics of the run `overrides` point at (evaluated in this process)."""
    cfg = load_config(config, [*overrides, "eval.tasks=[zeroshot]"])
    return json.loads(run_eval(cfg).read_text())["tasks"]["zeroshot"]["metrics"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "quickstart.yaml")
    parser.add_argument("--budget-s", type=float, default=600.0, help="training wall budget in seconds")
    parser.add_argument("--steps", type=int, default=None, help="fixed run length (skips calibration)")
    parser.add_argument(
        "--data", type=Path, default=None, help="a built dataset (default: build the recipe's)"
    )
    parser.add_argument("--out", type=Path, default=None, help="run folder (default: a temporary one)")
    parser.add_argument("overrides", nargs="*", help="config overrides key=value")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        data = args.data
        if data is None:
            cli("build", str(args.config), *args.overrides, f"output.dir={out / 'build'}")
            data = out / "build" / "dataset"
        steps = args.steps
        if steps is None:
            per_step = seconds_per_step(args.config, out, data, args.overrides)
            steps = max(1, int(0.95 * args.budget_s / per_step))
            print(f"calibration: {per_step:.3f} s/step -> {steps} steps in {args.budget_s:.0f} s")
        run = out / "run"
        start = time.perf_counter()
        cli(
            "train",
            str(args.config),
            *args.overrides,
            f"output.dir={run}",
            f"train.data={data}",
            f"train.steps={steps}",
        )
        wall = time.perf_counter() - start
        zeroshot = evaluate_zeroshot(
            args.config, [*args.overrides, f"output.dir={run}", f"train.data={data}"]
        )
        metrics = [json.loads(line) for line in (run / "train" / "metrics.jsonl").read_text().splitlines()]
        wait = statistics.mean(r["data_wait"] for r in metrics)
        print(
            f"steps {steps}  train wall {wall:.0f} s  data_wait {wait:.3%}  final logit scale "
            f"{metrics[-1]['logit_scale']:.1f}  overrides {' '.join(args.overrides) or '-'}"
        )
        print(
            f"real-digit zero-shot {zeroshot['digits/acc1']:.3f}  held-out-caption zero-shot "
            f"{zeroshot['heldout/acc1']:.3f}"
        )


if __name__ == "__main__":
    main()
