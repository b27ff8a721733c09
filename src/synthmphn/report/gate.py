"""The consistency gate's table and plot in the reports: what the gate did to a run's training data, and how
well it found the testbed's recorded failures.

A run whose `train.data` is a gated dataset (`synthmphn gate`, or a grid variant with `gate: true`) has that
dataset's `gate_summary.json` and `gate_quality.png` (`gate.summary`) beside its shards. `gate_table` puts
one column per such run: the gate's settings, images and failure share before / after, precision / recall /
false-flag rate overall, recall per failure mode, and precision / recall per generator. The run report
(`synthmphn report`) and the experiment report (results.md and report.html) both show it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from synthmphn.images.profiles import FAILURE_MODES
from synthmphn.io import atomic_write_text, read_json
from synthmphn.report.load import dataset_file, lookup
from synthmphn.report.markdown import report_markdown
from synthmphn.report.tables import Row, Table

SUMMARY_FILE = "gate_summary.json"
PLOT_FILE = "gate_quality.png"

GATE_ROWS = {
    "action": "gate.action",
    "reference": "reference",
    "threshold (own caption)": "gate.threshold",
    "margin (partner caption)": "gate.margin",
    "min images per caption": "gate.min_images",
    "images before": "before.images",
    "images after": "after.images",
    "groups dropped": "groups_dropped",
    "failure share before": "before.failure_share",
    "failure share after": "after.failure_share",
    "precision": "quality.overall.precision",
    "recall": "quality.overall.recall",
    "false-flag rate (faithful images)": "quality.overall.false_flag_rate",
    **{f"recall: {mode}": f"quality.per_failure.{mode}.recall" for mode in FAILURE_MODES},
}
"""Label -> dotted key of gate_summary.json, in table order (per-generator rows follow)."""


def gate_summaries(run_dirs: list[Path]) -> list[tuple[Path, dict[str, Any]]]:
    """(run folder, gate summary) for every run that trained on a gated dataset, in the given order."""
    found = []
    for run_dir in run_dirs:
        path = dataset_file(run_dir, SUMMARY_FILE)
        if path is not None:
            found.append((run_dir, read_json(path)))
    return found


def gate_table(columns: list[str], summaries: list[dict[str, Any]], title: str) -> Table:
    """One column per gate summary: `GATE_ROWS`, then precision / recall of every generator any summary has."""
    rows = [Row(label, [lookup(s, key) for s in summaries]) for label, key in GATE_ROWS.items()]
    generators = sorted({g for s in summaries for g in lookup(s, "quality.per_generator") or {}})
    for generator in generators:
        for metric in ("precision", "recall"):
            # generator names may hold dots (`procedural:painterly?fidelity=0.45`): no dotted lookup
            values = [
                (lookup(s, "quality.per_generator") or {}).get(generator, {}).get(metric) for s in summaries
            ]
            rows.append(Row(f"{generator.removeprefix('procedural:')}: {metric}", values))
    return Table(title, "", columns, rows)


def gate_plots(run_dirs: list[Path]) -> list[tuple[Path, bytes]]:
    """(run folder, gate_quality.png bytes) for every run whose training data has the gate's plot."""
    plots = []
    for run_dir in run_dirs:
        path = dataset_file(run_dir, PLOT_FILE)
        if path is not None:
            plots.append((run_dir, path.read_bytes()))
    return plots


def write_gate_markdown(dataset: Path) -> Path:
    """Writes DATASET/gate_summary.md, the gate table of DATASET's gate_summary.json (the table `synthmphn
    gate` prints), so a gated dataset carries a readable precision / recall table beside its plot."""
    summary = read_json(dataset / SUMMARY_FILE)
    table = gate_table([dataset.name], [summary], "Consistency gate vs the testbed's recorded failures")
    notes = [
        f"source: {summary.get('source')}",
        "precision = flagged failures / flagged; recall = flagged failures / recorded failures; false-flag "
        "rate = flagged faithful images / faithful images (recorded failures: ImageRecord.failure)",
    ]
    out = dataset / "gate_summary.md"
    atomic_write_text(out, report_markdown("synthmphn gate", [table], notes))
    return out
