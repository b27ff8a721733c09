"""Comparison tables: metrics as rows, runs as columns, the best value of each row marked.

Direction of "best": higher for accuracies and recalls; lower for `alignment` and `uniformity*`;
none for counts (`n_*`), chosen hyper-parameters (`*_C`), `modality_gap` (neither size is better per se),
timings and diversity (one side of a trade-off). A row is only marked when at least two runs have it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from synthmphn.eval.runner import HEADLINE
from synthmphn.report.load import SETUP_KEYS, RunMetrics

LOWER_IS_BETTER = ("alignment", "uniformity")
NO_PREFERENCE = ("modality_gap", "diversity")


def is_setting(metric: str) -> bool:
    """Counts (`n_*`), chosen hyper-parameters (`C`, `*_C`) and timings: shown, never ranked."""
    last = metric.rsplit("/", 1)[-1]
    return last.startswith("n_") or "_n_" in last or last == "C" or last.endswith("_C") or last == "seconds"


def direction(metric: str) -> str | None:
    """'higher', 'lower' or None (no preference) for a metric name like `zeroshot/digits/acc1`."""
    last = metric.rsplit("/", 1)[-1]
    if is_setting(metric) or last in NO_PREFERENCE:
        return None
    if last.startswith(LOWER_IS_BETTER):
        return "lower"
    return "higher"


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value  # NaN != NaN


def format_value(value: Any) -> str:
    """Integers as is, other numbers with 3 decimals (2 significant digits below 0.01, none from 100 up),
    missing as '–'."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if is_number(value):
        if abs(value) >= 100:
            return f"{value:.0f}"
        return f"{value:.3f}" if abs(value) >= 0.01 or value == 0 else f"{value:.2g}"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


@dataclass
class Row:
    """One metric across runs; `best` holds the indices of the best runs (ties all marked)."""

    name: str
    values: list[Any]
    best: set[int] = field(default_factory=set)
    muted: bool = False  # counts and settings: shown small and grey
    differs: bool = False  # setup rows whose values differ between runs


@dataclass
class Table:
    """A titled table with a first header cell and one column per run (or per generator...)."""

    title: str
    corner: str
    columns: list[str]
    rows: list[Row]
    text: bool = False  # cells hold text (config values): left-aligned and wrapped


def mark_best(row: Row, how: str | None) -> Row:
    """Marks the best numeric values of a row when at least two columns have one."""
    numbers = [(i, v) for i, v in enumerate(row.values) if is_number(v)]
    if how is None or len(numbers) < 2:
        return row
    values = [v for _, v in numbers]
    target = max(values) if how == "higher" else min(values)
    if min(values) != max(values):
        row.best = {i for i, v in numbers if v == target}
    return row


def metric_row(name: str, values: list[Any], how: str | None = "auto") -> Row:
    """A row of one metric; `how` is 'higher', 'lower', None, or 'auto' (from the metric's name)."""
    how = direction(name) if how == "auto" else how
    return mark_best(Row(name, values, muted=is_setting(name)), how)


def metric_order(name: str) -> tuple:
    """Sort key: a task's own metrics before prefixed ones (`heldout_style/...`), numbers in natural order
    (r1, r5, r10), counts last within their group."""
    parts = name.split("/")
    natural = tuple((0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", parts[-1]))
    return (len(parts) > 1, parts[:-1], is_setting(name), natural)


def headline_order(keys: set[str]) -> list[str]:
    """HEADLINE's order first, then the rest (user datasets) alphabetically."""
    known = [k for k in HEADLINE if k in keys]
    return known + sorted(keys - set(known))


def headline_table(runs: list[RunMetrics]) -> Table:
    """The flat headline metrics of every run."""
    keys = headline_order({k for run in runs for k in run.metrics.get("headline", {})})
    rows = [metric_row(k, [run.metrics.get("headline", {}).get(k) for run in runs]) for k in keys]
    return Table("Headline", "metric", [run.label for run in runs], rows)


def task_table(runs: list[RunMetrics], task: str, title: str, skip: tuple[str, ...] = ()) -> Table | None:
    """Every metric of one task across runs (None when no run has the task's metrics)."""
    names: list[str] = []
    for run in runs:
        names += [n for n in run.task_metrics(task) if n not in names and not n.startswith(skip)]
    if not names:
        return None
    rows = [
        metric_row(n, [run.task_metrics(task).get(n) for run in runs])
        for n in sorted(names, key=metric_order)
    ]
    return Table(title, "metric", [run.label for run in runs], rows)


def per_class_table(runs: list[RunMetrics], dataset: str = "digits") -> Table | None:
    """Zero-shot top-1 accuracy of each class of `dataset` across runs."""
    key = f"{dataset}/per_class"
    per_run = [
        {r["class"]: r["acc1"] for r in run.task("zeroshot").get("tables", {}).get(key, [])} for run in runs
    ]
    classes: list[str] = []
    for table in per_run:
        classes += [c for c in table if c not in classes]
    if not classes:
        return None
    rows = [metric_row(c, [table.get(c) for table in per_run], "higher") for c in classes]
    return Table(f"Zero-shot accuracy per class: {dataset}", "class", [run.label for run in runs], rows)


GENERATOR_COLUMNS = ("recognizability", "diversity", "n_images", "n_classes", "heldout_style")


def generator_table(run: RunMetrics) -> Table | None:
    """One run's generators (rows) with recognizability, diversity and counts (columns)."""
    rows_in = run.task("generators").get("tables", {}).get("generators", [])
    if not rows_in:
        return None
    rows = [Row(r["generator"], [r.get(c) for c in GENERATOR_COLUMNS]) for r in rows_in]
    # the most recognizable generator(s) of the run, marked like a run's best value in a row
    column = mark_best(Row("recognizability", [r.get("recognizability") for r in rows_in]), "higher")
    for i in column.best:
        rows[i].best = {0}
    return Table(f"Generators: {run.label}", "generator", list(GENERATOR_COLUMNS), rows)


def setup_table(runs: list[RunMetrics]) -> Table | None:
    """The config values runs were made with; rows where runs differ are marked."""
    rows = []
    for key in SETUP_KEYS:
        values = [run.setup.get(key) for run in runs]
        if all(v is None for v in values):
            continue
        differs = len({format_value(v) for v in values}) > 1
        rows.append(Row(key, values, differs=differs))
    return Table("Setup", "config", [run.label for run in runs], rows, text=True) if rows else None
