"""`gate_summary.json` and `gate_quality.png`: what the gate did, and how well it finds real failures.

`actions`: per generator and per recorded failure kind (`none` = a faithful image), how many images were
flagged, dropped, re-rendered, down-weighted, or removed with their caption. `quality`: the gate's first
verdict on each source image (flagged or not) against the testbed's ground truth (`ImageRecord.failure`
set): overall and per generator precision = flagged failures / flagged, recall = flagged failures /
failures; per failure mode the recall (precision needs the flagged faithful images, which have no mode).
`after`: the share of recorded failures among the images left in the gated train split.
"""

from __future__ import annotations

import io
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from synthmphn.config import RunConfig
from synthmphn.data.manifest import Manifest
from synthmphn.data.shards import index_shard
from synthmphn.images.profiles import FAILURE_MODES
from synthmphn.io import atomic_write_bytes

NONE = "none"  # the failure kind of a faithful image


def ratio(a: int, b: int) -> float | None:
    """a / b, or None when b is 0."""
    return a / b if b else None


def confusion(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """n, failures, flagged, true positives, precision and recall of a set of decision rows."""
    failures = sum(r["failure"] is not None for r in rows)
    flagged = sum(r["flagged"] is not None for r in rows)
    tp = sum(r["failure"] is not None and r["flagged"] is not None for r in rows)
    return {
        "images": len(rows),
        "failures": failures,
        "flagged": flagged,
        "true_positives": tp,
        "precision": ratio(tp, flagged),
        "recall": ratio(tp, failures),
        "false_flag_rate": ratio(flagged - tp, len(rows) - failures),
    }


def quality(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The gate's precision / recall overall, per generator and per failure mode (module doc)."""
    by_generator: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_generator[row["generator"]].append(row)
    per_mode = {}
    for mode in (*FAILURE_MODES, NONE):
        chosen = [r for r in rows if (r["failure"] or NONE) == mode]
        if chosen:
            flagged = sum(r["flagged"] is not None for r in chosen)
            key = "flag_rate" if mode == NONE else "recall"
            per_mode[mode] = {"images": len(chosen), "flagged": flagged, key: ratio(flagged, len(chosen))}
    return {
        "overall": confusion(rows),
        "per_generator": {g: confusion(rs) for g, rs in sorted(by_generator.items())},
        "per_failure": per_mode,
        "flag_reasons": dict(Counter(r["flagged"] for r in rows if r["flagged"])),
    }


def actions(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts of every outcome per generator and per recorded failure kind."""
    per_generator: dict[str, Counter[str]] = defaultdict(Counter)
    per_failure: dict[str, Counter[str]] = defaultdict(Counter)
    for row in rows:
        for table, name in ((per_generator, row["generator"]), (per_failure, row["failure"] or NONE)):
            table[name]["images"] += 1
            table[name][row["outcome"]] += 1
            table[name]["flagged"] += row["flagged"] is not None
    return {
        "per_generator": {k: dict(v) for k, v in sorted(per_generator.items())},
        "per_failure": {k: dict(v) for k, v in sorted(per_failure.items())},
        "outcomes": dict(Counter(r["outcome"] for r in rows)),
    }


def after_gate(output: Manifest) -> dict[str, Any]:
    """Groups, images and the share of recorded failures left in the gated train split."""
    groups = images = failures = 0
    for entry in output.entries("train"):
        for sample in index_shard(output.shard_path(entry)):
            records = [*sample.group.images, *(r for n in sample.group.negatives for r in n.images)]
            groups += 1
            images += len(records)
            failures += sum(r.failure is not None for r in records)
    return {
        "groups": groups,
        "images": images,
        "failures": failures,
        "failure_share": ratio(failures, images),
    }


def build_summary(
    cfg: RunConfig, src: Path, per_shard: dict[str, list[dict[str, Any]]], output: Manifest, reference: str
) -> dict[str, Any]:
    """The numbers of a gate run (module doc)."""
    rows = [row for shard_rows in per_shard.values() for row in shard_rows]
    source_groups = len({r["group"] for r in rows})
    after = after_gate(output)
    return {
        "source": str(src),
        "reference": reference,
        "gate": cfg.gate.model_dump(mode="json", exclude={"device", "batch_size"}),
        "before": {
            "groups": source_groups,
            "images": len(rows),
            "failures": sum(r["failure"] is not None for r in rows),
            "failure_share": ratio(sum(r["failure"] is not None for r in rows), len(rows)),
        },
        "after": after,
        "groups_dropped": source_groups - after["groups"],
        "actions": actions(rows),
        "quality": quality(rows),
    }


def plot_quality(summary: dict[str, Any], path: Path) -> None:
    """Recall per failure mode (and the flag rate of faithful images), precision / recall per generator."""
    q = summary["quality"]
    fig = Figure(figsize=(11, 4))
    left, right = fig.subplots(1, 2)
    modes = list(q["per_failure"])
    values = [q["per_failure"][m].get("recall", q["per_failure"][m].get("flag_rate")) or 0.0 for m in modes]
    left.bar(modes, values, color=["#c44" if m != NONE else "#888" for m in modes])
    left.set_ylim(0, 1)
    left.set_title("recall per failure mode (grey: flag rate of faithful images)")
    generators = list(q["per_generator"])
    xs = range(len(generators))
    for offset, metric in ((-0.2, "precision"), (0.2, "recall")):
        right.bar([x + offset for x in xs], [q["per_generator"][g][metric] or 0.0 for g in generators], 0.4,
                  label=metric)  # fmt: skip
    right.set_xticks(list(xs), [g.removeprefix("procedural:") for g in generators], rotation=20, fontsize=7)
    right.set_ylim(0, 1)
    right.legend()
    right.set_title("per generator")
    fig.suptitle(f"gate ({summary['reference']}, action {summary['gate']['action']}) vs recorded failures")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    atomic_write_bytes(path, buffer.getvalue())
