"""Equal runs across experiment grids are trained once.

The thesis grids overlap: `objectives`' tripletclip cell is `hn-schedule`'s constant-p cell, and `msm`'s
msm-all cell is `objectives`' mpclip cell. A run's *fingerprint* hashes everything that decides its result
(the config's run identity, with the dataset named by its content key instead of its folder); a cell whose
fingerprint equals a finished run of any grid under the same parent folder
(`runs/experiments/<grid>/<variant>/seed<k>/`) copies that run's `eval/` folder instead of training, and records the source in `reused_from.txt`. `share_runs: false` in the experiment YAML turns it off.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import yaml

from synthmphn.config import RunConfig, config_to_dict, stage_identity
from synthmphn.eval.runner import failed_tasks
from synthmphn.io import atomic_write_text
from synthmphn.provenance import write_config

REUSED_FROM = "reused_from.txt"


def run_fingerprint(cfg: RunConfig) -> str:
    """A hash of the config's run identity (every field that decides the result; not where it writes or how
    many threads it uses) with train.data reduced to its dataset key: grids keep datasets in
    `datasets/<key>/dataset`, the key hashing their build identity, so the same key in another grid's folder
    is the same data."""
    identity = stage_identity(cfg, "run")
    data = cfg.train.data
    identity["train.data"] = Path(data).parent.name if data is not None else None
    text = json.dumps(identity, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def finished_runs(root: Path) -> dict[str, Path]:
    """Fingerprint -> run folder for every completely evaluated run under `root/<grid>/<variant>/seed<k>/`.

    Runs that are themselves copies are skipped (their source is listed), as are configs this version cannot
    read (e.g. written by an older synthmphn with other keys): those are never reused.
    """
    index: dict[str, Path] = {}
    for config_path in sorted(root.glob("*/*/seed*/config.yaml")):
        run_dir = config_path.parent
        if failed_tasks(run_dir / "eval" / "metrics.json") or (run_dir / REUSED_FROM).exists():
            continue
        try:
            cfg = RunConfig.model_validate(yaml.safe_load(config_path.read_text(encoding="utf-8")))
        except ValueError:
            continue
        index.setdefault(run_fingerprint(cfg), run_dir)
    return index


def copy_finished_run(source: Path, cfg: RunConfig) -> None:
    """Makes cfg.output.dir a finished run by copying source's eval folder (metrics, plots) into it.

    The copy lands in a temp folder first and is renamed into place, so a killed copy leaves no
    `eval/metrics.json` and the cell simply runs (or copies) again on resume.
    """
    run_dir = cfg.output.dir
    write_config(run_dir, config_to_dict(cfg))
    atomic_write_text(run_dir / REUSED_FROM, f"{source.resolve()}\n")
    staging = run_dir / "eval.copying"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source / "eval", staging)
    shutil.rmtree(run_dir / "eval", ignore_errors=True)
    staging.rename(run_dir / "eval")
