"""Comparison plots drawn for the report (PNG bytes, embedded in the HTML): per-kind compositional bars and
the generators' recognizability-vs-diversity scatter, one panel per run."""

from __future__ import annotations

import io

import numpy as np
from matplotlib.figure import Figure

from synthmphn.report.load import RunMetrics


def figure_png(fig: Figure, dpi: int = 100) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def compositional_kinds(run: RunMetrics) -> dict[str, dict[str, float]]:
    """{kind: {"text": acc, "image": acc}} of one run's compositional per-kind table."""
    rows = run.task("compositional").get("tables", {}).get("per_kind", [])
    return {
        r["kind"]: {side: r[f"{side}_acc"] for side in ("text", "image") if f"{side}_acc" in r} for r in rows
    }


def compositional_bars(runs: list[RunMetrics]) -> bytes | None:
    """Grouped bars: accuracy per negative kind, one bar per run, text side and image side panels."""
    per_run = [compositional_kinds(run) for run in runs]
    kinds = sorted({kind for table in per_run for kind in table})
    if not kinds:
        return None
    fig = Figure(figsize=(max(6.0, 1.2 * len(kinds) + 2), 5.6))
    axes = fig.subplots(2, 1, sharex=True)
    width = 0.8 / len(runs)
    x = np.arange(len(kinds))
    for ax, side, title in zip(
        axes,
        ("text", "image"),
        ("text side: true caption vs negative caption", "image side: true image vs negative's image"),
        strict=True,
    ):
        for i, (run, table) in enumerate(zip(runs, per_run, strict=True)):
            values = [table.get(kind, {}).get(side, np.nan) for kind in kinds]
            ax.bar(x + (i - (len(runs) - 1) / 2) * width, values, width, label=run.label, color=f"C{i % 10}")
        ax.axhline(0.5, color="grey", linestyle="--", linewidth=1, label="chance")
        ax.set_ylim(0, 1.0)
        ax.set_ylabel("accuracy")
        ax.set_title(title, fontsize=10, loc="left")
        ax.grid(axis="y", alpha=0.3)
    axes[1].set_xticks(x, kinds)
    axes[0].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=9)
    return figure_png(fig)


def scatter_generator(ax: object, row: dict, index: int) -> None:
    """One generator's point: colour by its index, a star for the held-out style, legend label its name."""
    star = bool(row.get("heldout_style"))
    label = f"{row['generator']} (held-out style)" if star else row["generator"]
    ax.scatter(  # type: ignore[attr-defined]
        row["diversity"], row["recognizability"], s=150 if star else 60, marker="*" if star else "o",
        color=f"C{index % 10}", edgecolor="black", linewidth=0.5, alpha=0.85, zorder=3, label=label,
    )  # fmt: skip


def generator_scatter(runs: list[RunMetrics]) -> bytes | None:
    """Recognizability (y) vs diversity (x), one point per generator (named in the legend), a panel per run."""
    tables = [(run, run.task("generators").get("tables", {}).get("generators", [])) for run in runs]
    tables = [(run, rows) for run, rows in tables if rows]
    if not tables:
        return None
    cols = min(3, len(tables))
    nrows = (len(tables) + cols - 1) // cols
    fig = Figure(figsize=(4.6 * cols, 3.9 * nrows))
    axes = np.atleast_1d(fig.subplots(nrows, cols, sharex=True, sharey=True, squeeze=False)).ravel()
    names = sorted({row["generator"] for _, rows in tables for row in rows})
    for ax, (run, rows) in zip(axes, tables, strict=False):
        for row in rows:
            if row.get("diversity") is not None:
                scatter_generator(ax, row, names.index(row["generator"]))
        ax.set_title(run.label, fontsize=10)
        ax.set_ylim(-0.03, 1.05)
        ax.grid(alpha=0.3)
    legend: dict[str, object] = {}
    for ax in axes[: len(tables)]:  # every generator once, even those only some runs have
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            legend.setdefault(label, handle)
    fig.legend(
        list(legend.values()), list(legend), loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False
    )
    for ax in axes[len(tables) :]:
        ax.set_visible(False)
    fig.supxlabel("diversity: mean pairwise cosine distance within a class", fontsize=10)
    fig.supylabel("recognizability", fontsize=10)
    return figure_png(fig)
