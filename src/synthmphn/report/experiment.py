"""The HTML page of an experiment grid: mean ± std per metric and variant, bar plots, generator analysis.

Reuses the run report's building blocks (tables, CSS, embedded PNGs) so both pages look alike.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from synthmphn.io import atomic_write_bytes, atomic_write_text  # noqa: E402
from synthmphn.report.html import CSS, figure_html, table_html  # noqa: E402
from synthmphn.report.load import load_runs  # noqa: E402
from synthmphn.report.plots import figure_png, generator_scatter  # noqa: E402
from synthmphn.report.tables import Row, Table, direction, generator_table  # noqa: E402


def summary_table(rows: list[dict[str, Any]], variants: list[str]) -> Table:
    """Metrics × variants with 'mean ± std' cells; the best mean of each row is marked."""
    cell = {(r["metric"], r["variant"]): r for r in rows}
    out = []
    for metric in dict.fromkeys(r["metric"] for r in rows):
        found = [(i, cell[(metric, v)]) for i, v in enumerate(variants) if (metric, v) in cell]
        values = ["–"] * len(variants)
        for i, r in found:
            values[i] = f"{r['mean']:.3f} ± {r['std']:.3f}"
        row = Row(metric, values)
        how = direction(metric)
        means = [r["mean"] for _, r in found]
        if how is not None and len(means) > 1 and min(means) != max(means):
            target = max(means) if how == "higher" else min(means)
            row.best = {i for i, r in found if r["mean"] == target}
        out.append(row)
    return Table("Results (mean ± sample std over seeds)", "metric", variants, out)


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
