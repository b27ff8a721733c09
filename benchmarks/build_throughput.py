"""Build throughput: the quickstart dataset (procedural pool, msm-all) at 32 and 64 px, 1 vs 2 worker processes.

Prints groups/s and images/s side by side with the speed-up over one worker, plus the CPU time used.
Read the ratios, not the absolute numbers: they depend on the machine, and a worker speed-up needs idle
cores (on a machine busy with other jobs, 2 workers cannot beat 1). Images per CPU-second is the
load-independent cost of rendering + encoding + writing; it should barely change with the worker count.

    .venv/bin/python benchmarks/build_throughput.py [--groups 1000] [--sizes 32 64] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import tempfile
from pathlib import Path

from synthmphn.build import run_build  # importing it registers the caption backends and generators
from synthmphn.config import load_config

QUICKSTART = Path(__file__).resolve().parent.parent / "configs" / "quickstart.yaml"


def cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children (the worker processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure(groups: int, size: int, workers: int, out: Path) -> dict[str, float]:
    """Builds the quickstart-like train split into `out` and returns this run's throughput."""
    per_shard = max(1, groups // 8)  # 8 shards, so 2 workers share the work evenly
    cfg = load_config(
        QUICKSTART,
        [
            f"output.dir={out}",
            f"captions.n_groups={groups}",
            f"images.size={size}",
            f"images.workers={workers}",
            f"shards.groups_per_shard={per_shard}",
            "splits.heldout_groups=0",
            "splits.heldout_style_groups=0",
        ],
    )
    cpu_before = cpu_seconds()
    with contextlib.redirect_stderr(io.StringIO()):  # keep the table readable: no per-build summary
        dataset = run_build(cfg)
    cpu = cpu_seconds() - cpu_before
    run = json.loads((dataset / "build_summary.json").read_text())["this_run"]
    return {
        "wall_s": run["wall_s"],
        "groups_per_s": run["groups_rendered"] / run["wall_s"],
        "images_per_s": run["images_rendered"] / run["wall_s"],
        "render_images_per_s": run["images_rendered"] / run["render_s"],
        "cpu_s": cpu,
        "images_per_cpu_s": run["images_rendered"] / cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--groups", type=int, default=1000, help="training groups per build (quickstart: 2000)"
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    os.environ.setdefault("SYNTHMPHN_QUIET", "1")
    print(
        f"build throughput: {args.groups} groups x 10 images (5 styles, msm-all, 1 negative), {os.cpu_count()} CPUs"
    )
    print(
        f"{'size':>5} {'workers':>8} {'wall s':>8} {'groups/s':>9} {'images/s':>9} {'render img/s':>13} "
        f"{'speed-up':>9} {'cpu s':>7} {'img/cpu-s':>10}"
    )
    with tempfile.TemporaryDirectory(prefix="synthmphn-bench-") as tmp:
        for size in args.sizes:
            baseline = None
            for workers in args.workers:
                result = measure(args.groups, size, workers, Path(tmp) / f"s{size}-w{workers}")
                baseline = baseline or result["images_per_s"]
                print(
                    f"{size:>5} {workers:>8} {result['wall_s']:>8.1f} {result['groups_per_s']:>9.1f} "
                    f"{result['images_per_s']:>9.1f} {result['render_images_per_s']:>13.1f} "
                    f"{result['images_per_s'] / baseline:>8.2f}x {result['cpu_s']:>7.1f} "
                    f"{result['images_per_cpu_s']:>10.1f}"
                )


if __name__ == "__main__":
    main()
