"""The sweep: every unit (p, seed) of `config.ps` × `config.seeds`, resumable, then the outputs (SPEC §5).

What one unit computes, and the choices where SPEC §5 is silent, are in `unit.py`. Units already saved
under out_dir/units/ with a matching fingerprint are reused; the others run in parallel processes
(spawned, each importing `unit.py` alone) when workers > 1. Then simulation.json (summary over seeds,
the paper's claims checked), the plots and timing.json.
"""

from __future__ import annotations

import math
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from synthmphn.config import SimulateConfig
from synthmphn.cpus import usable_cpus
from synthmphn.io import atomic_write_json, read_json
from synthmphn.progress import progress
from synthmphn.provenance import write_run_info
from synthmphn.seeding import derive_seed
from synthmphn.theory import plots
from synthmphn.theory.summary import PUBLISHED, check_claims, compact_unit, mean_std, summarize
from synthmphn.theory.unit import UnitJob, compute_unit, p_key

UNIT_FORMAT = 2  # 2: magnitude per feature, authors_branch in filter stats (issue #12). Bump when a unit file's content changes meaning, so old units are recomputed


# ----------------------------------------------------------------------------- resumable sweep


def unit_fingerprint(config: SimulateConfig, run_seed: int, with_tsne: bool) -> str:
    """What a unit's numbers depend on: every setting but the grid, tsne_p and workers, plus the run seed."""
    settings = config.model_dump(mode="json", exclude={"ps", "seeds", "tsne_p", "workers"})
    return str(derive_seed(UNIT_FORMAT, run_seed, with_tsne, sorted(settings.items())))


def unit_path(out_dir: Path, p: float, seed: int) -> Path:
    """out_dir/units/p{p}_seed{seed}.json."""
    return out_dir / "units" / f"p{p_key(p)}_seed{seed}.json"


def load_unit(path: Path, fingerprint: str) -> dict[str, Any] | None:
    """A saved unit whose fingerprint matches, else None (missing, stale or unreadable)."""
    if not path.exists():
        return None
    try:
        unit = read_json(path)
    except ValueError:
        return None
    return unit if unit.get("fingerprint") == fingerprint else None


def plan_units(config: SimulateConfig, out_dir: Path, run_seed: int) -> list[UnitJob]:
    """Every unit of the grid, seed-major then p (the order of simulation.json)."""
    jobs = []
    for seed in config.seeds:
        for p in config.ps:
            with_tsne = math.isclose(p, config.tsne_p)
            jobs.append(
                UnitJob(
                    p,
                    seed,
                    with_tsne,
                    unit_fingerprint(config, run_seed, with_tsne),
                    unit_path(out_dir, p, seed),
                )
            )
    return jobs


def worker_count(config: SimulateConfig, pending: int) -> int:
    """Processes to use: config.workers (0 = one per available CPU), at most one per pending unit; 1 off CPU."""
    if config.device != "cpu":
        return 1
    return max(1, min(pending, config.workers or usable_cpus()))


def sweep(
    config: SimulateConfig, out_dir: Path, run_seed: int
) -> tuple[list[dict[str, Any]], dict[str, dict[str, float]]]:
    """Computes the units not already saved (in parallel processes when workers > 1); returns all units
    (read back from their files, so resumed and fresh numbers are the same floats) and the timings."""
    jobs = plan_units(config, out_dir, run_seed)
    pending = [job for job in jobs if load_unit(job.path, job.fingerprint) is None]
    timings: dict[str, dict[str, float]] = {}
    bar = progress(total=len(jobs), initial=len(jobs) - len(pending), desc="simulate", unit="unit")
    workers = worker_count(config, len(pending))
    if workers == 1:
        for job in pending:
            timings[job.path.stem] = compute_unit(config, run_seed, job)
            bar.update(1)
    else:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(compute_unit, config, run_seed, job): job for job in pending}
            for future in as_completed(futures):
                timings[futures[future].path.stem] = future.result()
                bar.update(1)
    bar.close()
    return [read_json(job.path) for job in jobs], timings


# ----------------------------------------------------------------------------- entry point


def run_simulation(config: SimulateConfig, out_dir: Path, seed: int = 0) -> Path:
    """Runs the sweep over config.ps × config.seeds (resumable) and writes simulation.json, plots, run info.

    Returns the path of simulation.json: {config, run_seed, published, summary (per p, per condition,
    mean ± std over seeds), claims, units (every metric per p / seed / condition)}.
    """
    out_dir = Path(out_dir)
    write_run_info(out_dir, config.model_dump(mode="json"), seed, "simulate")
    start = time.perf_counter()
    units, timings = sweep(config, out_dir, seed)
    summary = summarize(units, config.ps)
    result = {
        "config": config.model_dump(mode="json"),
        "run_seed": seed,
        "published": PUBLISHED,
        "summary": summary,
        "claims": check_claims(summary, units, config.tsne_p),
        "units": [compact_unit(u) for u in units],
    }
    path = out_dir / "simulation.json"
    atomic_write_json(path, result)
    plots.write_all(result, units, out_dir, config.tsne_p)
    atomic_write_json(
        out_dir / "timing.json",
        {
            "total_seconds": round(time.perf_counter() - start, 2),
            "computed_units_seconds": timings,
            "cpu_seconds_per_unit": mean_std([t["cpu"] for t in timings.values()]) if timings else None,
            "workers": worker_count(config, len(units)),
        },
    )
    return path
