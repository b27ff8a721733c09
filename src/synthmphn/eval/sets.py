"""Which eval set each number was measured on, and whether every variant of a grid shares that set.

Scopes (`data.manifest.SHARED` / `IN_DOMAIN`):
    shared     the real sets (sklearn digits, MNIST, Fashion-MNIST), the user's `eval.datasets` and SugarCrepe
               files, `heldout_style` (drawn only by images.heldout_style) and `heldout` when `build` drew it
               with `splits.reference_pool` (the default): the same images whatever a variant trains on.
    in-domain  `heldout` drawn by the run's own training pool (`splits.reference_pool: null`, or a dataset
               whose build summary records no `heldout_render`, i.e. one built before the reference pool).
`eval_sets` is written to eval/metrics.json (`eval_sets`), with each held-out split's `fingerprint` (sha256
over its shards' sha256s in the manifest), so a grid report can check that "shared" sets really are identical
across the variants of a seed; `metric_set` maps a flat `<task>/<metric>` number to its set.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from pathlib import Path
from typing import Any

from synthmphn.config import EvalConfig
from synthmphn.data.manifest import IN_DOMAIN, SHARED, Manifest, ManifestError
from synthmphn.eval.datasets import REAL_SETS
from synthmphn.eval.groups import HELDOUT, HELDOUT_STYLE
from synthmphn.io import read_json

SUGARCREPE = "sugarcrepe"
HELDOUT_TASKS = ("retrieval", "compositional", "diagnostics")
"""Tasks whose unprefixed numbers are measured on `heldout` (`heldout_style/...` prefixes the style split)."""
SET_TASKS = ("zeroshot", "linear_probe")
"""Tasks that name the set in each metric: `zeroshot/<set>/<metric>`, `linear_probe/<set>_<metric>`."""


def split_fingerprint(dataset_dir: Path | None, split: str) -> str | None:
    """sha256 over the manifest's shard sha256s of `split` (index order); None without a manifest or shards."""
    if dataset_dir is None:
        return None
    try:
        entries = Manifest.load(Path(dataset_dir), missing_ok=True).entries(split)
    except (ManifestError, OSError, ValueError):
        return None
    if not entries:
        return None
    digest = hashlib.sha256()
    for entry in sorted(entries, key=lambda e: e.index):
        digest.update(f"{entry.index}:{entry.sha256}\n".encode())
    return digest.hexdigest()


def heldout_render(dataset_dir: Path | None) -> dict[str, dict[str, Any]]:
    """The build summary's record of how each held-out split was drawn ({} when it has none)."""
    path = Path(dataset_dir) / "build_summary.json" if dataset_dir is not None else None
    if path is None or not path.is_file():
        return {}
    try:
        summary = read_json(path)
    except (OSError, ValueError):
        return {}
    render = summary.get("heldout_render") if isinstance(summary, dict) else None
    return render if isinstance(render, dict) else {}


def eval_sets(dataset_dir: Path | None, config: EvalConfig) -> dict[str, dict[str, Any]]:
    """{set: {"scope", ...}} for every set the eval reads; held-out splits add their pool and fingerprint."""
    sets: dict[str, dict[str, Any]] = {name: {"scope": SHARED, "kind": "real"} for name in REAL_SETS}
    render = heldout_render(dataset_dir)
    for split in (HELDOUT, HELDOUT_STYLE):
        drawn = render.get(split, {})
        default = SHARED if split == HELDOUT_STYLE else IN_DOMAIN  # a dataset built before the reference pool
        sets[split] = {
            "scope": drawn.get("scope", default),
            "kind": "synthetic",
            "pool": drawn.get("pool"),
            "fingerprint": split_fingerprint(dataset_dir, split),
        }
    for user in config.datasets:
        sets.setdefault(user.name, {"scope": SHARED, "kind": "user"})
    if config.sugarcrepe:
        sets[SUGARCREPE] = {"scope": SHARED, "kind": "user"}
    return sets


def metric_set(metric: str, sets: Collection[str]) -> str | None:
    """The eval set a flat `<task>/<metric>` number was measured on (one of `sets`), None when it is no set's
    score (generator map rows, counts of other tasks, the aggregate)."""
    task, _, rest = metric.partition("/")
    if task == "zeroshot":
        name = rest.partition("/")[0]
        return name if name in sets else None
    if task == "linear_probe":
        found = [s for s in sets if rest.startswith(f"{s}_")]
        return max(found, key=len) if found else None
    if task in HELDOUT_TASKS:
        if rest.startswith(f"{HELDOUT_STYLE}/"):
            return HELDOUT_STYLE
        if task == "compositional" and rest.startswith(f"{SUGARCREPE}/"):
            return SUGARCREPE if SUGARCREPE in sets else None
        return HELDOUT if HELDOUT in sets else None
    return None
