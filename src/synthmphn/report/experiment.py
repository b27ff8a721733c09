"""An experiment grid's results: mean ± std per metric and variant as markdown, CSV, JSON and an HTML page.

The one place the results table is made: `summarise` aggregates seeds and marks each metric's best variant
with `tables.mark_best` in the metric's `direction()` (lower for alignment and uniformity, none for counts,
settings and the modality gap), and every output (results.md, results.csv's `best` column, results.json,
report.html) shows that one marking. The HTML page reuses the run report's building blocks (tables, CSS,
embedded PNGs) so both pages look alike.
"""

from __future__ import annotations

import csv
import html
import io
import math
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from synthmphn.io import atomic_write_bytes, atomic_write_json, atomic_write_text  # noqa: E402
from synthmphn.report.html import CSS, figure_html, table_html  # noqa: E402
from synthmphn.report.load import load_runs  # noqa: E402
from synthmphn.report.markdown import table_markdown  # noqa: E402
from synthmphn.report.plots import figure_png, generator_scatter  # noqa: E402
from synthmphn.report.tables import Row, Table, direction, generator_table, mark_best  # noqa: E402

CSV_FIELDS = ["metric", "variant", "mean", "std", "n", "best"]


def run_numbers(metrics: dict[str, Any]) -> dict[str, float]:
    """The headline plus every task's own numbers (e.g. `compositional/text/colour`, `retrieval/i2t_r10`) of
    one eval/metrics.json, flat as `<task>/<metric>`, so an experiment's `metrics:` list can name any of them."""
    flat = {
        f"{task}/{name}": float(value)
        for task, entry in metrics.get("tasks", {}).items()
        for name, value in (entry.get("metrics") or {}).items()
        if _is_number(value)
    }
    flat.update({k: float(v) for k, v in metrics.get("headline", {}).items() if _is_number(v)})
    return flat


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def summarise(
    table: dict[str, dict[int, dict[str, float]]], metrics: list[str] | None
) -> list[dict[str, Any]]:
    """Rows of (metric, variant, mean, std, n, best) over seeds (`table`: variant -> seed -> metric -> value).

    std is the sample std (ddof=1), 0 for one seed. `best` marks the best mean of each metric in its
    `direction()` (ties all marked; nothing marked when fewer than two variants differ or there is none).
    """
    names = metrics or sorted({m for seeds in table.values() for vals in seeds.values() for m in vals})
    rows = []
    for metric in names:
        found = []
        for variant, seeds in table.items():
            values = np.array([vals[metric] for vals in seeds.values() if metric in vals], dtype=float)
            if values.size == 0:
                continue
            std = float(values.std(ddof=1)) if values.size > 1 else 0.0
            found.append(
                {
                    "metric": metric,
                    "variant": variant,
                    "mean": float(values.mean()),
                    "std": std,
                    "n": int(values.size),
                }
            )
        best = mark_best(Row(metric, [r["mean"] for r in found]), direction(metric)).best
        rows += [{**r, "best": i in best} for i, r in enumerate(found)]
    return rows


def summary_table(rows: list[dict[str, Any]], variants: list[str]) -> Table:
    """Metrics × variants with 'mean ± std' cells; the cells `summarise` marked best are marked."""
    cell = {(r["metric"], r["variant"]): r for r in rows}
    out = []
    for metric in dict.fromkeys(r["metric"] for r in rows):
        found = [(i, cell[(metric, v)]) for i, v in enumerate(variants) if (metric, v) in cell]
        values = ["–"] * len(variants)
        for i, r in found:
            values[i] = f"{r['mean']:.3f} ± {r['std']:.3f}"
        out.append(Row(metric, values, best={i for i, r in found if r.get("best")}))
    return Table("Results (mean ± sample std over seeds)", "metric", variants, out)


def results_markdown(rows: list[dict[str, Any]], variants: list[str]) -> str:
    """The summary table in markdown: one row per metric, one column per variant, best cells in bold."""
    return table_markdown(summary_table(rows, variants))


def budget_line(images_per_step: dict[str, float] | None) -> str:
    """The header line stating images per step: one number when every variant has it, else per variant."""
    if not images_per_step:
        return ""
    values = set(images_per_step.values())
    if len(values) == 1:
        return f"images per step: {values.pop():g} (every variant)\n\n"
    listed = ", ".join(f"{v} {n:g}" for v, n in images_per_step.items())
    return f"images per step: {listed} (**unequal**: comparisons are confounded with the image budget)\n\n"


def results_csv(rows: list[dict[str, Any]]) -> str:
    """The summary rows as CSV (metric, variant, mean, std, n, best)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_experiment_results(
    out: Path,
    name: str,
    seeds: list[int],
    per_seed: dict[str, dict[int, dict[str, float]]],
    metrics: list[str] | None,
    variants: list[str],
    run_dirs: list[Path],
    images_per_step: dict[str, float] | None = None,
) -> Path:
    """Writes results.md/.csv/.json and report.html (plots + per-run tables) into `out`; returns results.md.

    `per_seed` is variant -> seed -> flat numbers (`run_numbers`); `metrics` the table's rows (None: all);
    `images_per_step` (variant -> images the loss takes per step) goes into the header (issue #12).
    """
    rows = summarise(per_seed, metrics)
    header = f"# Experiment `{name}`\n\nseeds: {seeds}\n\n" + budget_line(images_per_step)
    atomic_write_text(out / "results.md", header + results_markdown(rows, variants))
    atomic_write_text(out / "results.csv", results_csv(rows))
    atomic_write_json(out / "results.json", {"name": name, "rows": rows, "per_seed": per_seed})
    write_experiment_report(name, rows, variants, run_dirs, out / "report.html")
    return out / "results.md"


def metric_bars(rows: list[dict[str, Any]], variants: list[str], per_figure: int = 8) -> list[bytes]:
    """Bar charts with ±std error bars, one panel per metric (several figures when there are many)."""
    metrics = list(dict.fromkeys(r["metric"] for r in rows))
    cell = {(r["metric"], r["variant"]): r for r in rows}
    pngs = []
    for start in range(0, len(metrics), per_figure):
        chunk = metrics[start : start + per_figure]
        cols = min(4, len(chunk))
        nrows = math.ceil(len(chunk) / cols)
        fig, axes = plt.subplots(nrows, cols, figsize=(3.2 * cols, 2.8 * nrows), squeeze=False)
        for ax, metric in zip(axes.flat, chunk, strict=False):
            present = [v for v in variants if (metric, v) in cell]
            means = [cell[(metric, v)]["mean"] for v in present]
            stds = [cell[(metric, v)]["std"] for v in present]
            ax.bar(
                range(len(present)), means, yerr=stds, capsize=3, color=plt.cm.tab10.colors[: len(present)]
            )
            ax.set_xticks(range(len(present)), present, rotation=35, ha="right", fontsize=8)
            ax.set_title(metric, fontsize=9)
            ax.tick_params(axis="y", labelsize=8)
        for ax in list(axes.flat)[len(chunk) :]:
            ax.axis("off")
        fig.tight_layout()
        pngs.append(figure_png(fig))
        plt.close(fig)
    return pngs


def write_experiment_report(
    name: str, rows: list[dict[str, Any]], variants: list[str], run_dirs: list[Path], out: Path
) -> Path:
    """Writes one self-contained HTML page for an experiment (and its bar charts as results[_k].png beside
    it, for docs and slides); returns the page's path."""
    bars = metric_bars(rows, variants)
    for k, png in enumerate(bars):
        atomic_write_bytes(out.parent / ("results.png" if k == 0 else f"results_{k + 1}.png"), png)
    parts = [
        f"<h1>Experiment {html.escape(name)}</h1>",
        f'<p class="sub">{len(variants)} variants, {len(run_dirs)} runs; best mean per row marked.</p>',
        table_html(summary_table(rows, variants), heading=False),
        '<div class="figs">' + "".join(figure_html(p, "mean ± std over seeds") for p in bars),
        "</div>",
    ]
    first_seed = _first_run_per_variant(run_dirs)
    runs = load_runs(first_seed)
    gen_tables = [t for t in (generator_table(r) for r in runs) if t is not None]
    scatter = generator_scatter(runs)
    if gen_tables or scatter:
        parts.append("<h2>Generators: recognizability vs diversity (first seed of each variant)</h2>")
        parts += [table_html(t) for t in gen_tables]
        if scatter:
            parts.append(figure_html(scatter, "One point per generator and variant"))
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Experiment {html.escape(name)}</title><style>{CSS}</style></head><body>{''.join(parts)}</body></html>\n"
    )
    atomic_write_text(out, page)
    return out


def _first_run_per_variant(run_dirs: list[Path]) -> list[Path]:
    """One run folder per variant (`<output>/<variant>/seed<k>`): the first listed."""
    seen: dict[Path, Path] = {}
    for run_dir in run_dirs:
        seen.setdefault(Path(run_dir).parent, Path(run_dir))
    return list(seen.values())
