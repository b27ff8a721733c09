"""Figures of the simulation (matplotlib, Agg): one PNG per question, written atomically."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from synthmphn.io import atomic_write_bytes  # noqa: E402
from synthmphn.theory.data import N_SEGMENTS  # noqa: E402

COLOURS = {"raw": "tab:red", "recaptioned": "tab:blue"}
LABELS = {"raw": "raw captions", "recaptioned": "recaptioned + filter"}


def save(fig: plt.Figure, path: Path) -> None:
    """Writes `fig` as PNG to `path` atomically and closes it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def band(ax: plt.Axes, summary: list[dict], condition: str, metric: str, **style: Any) -> None:
    """Mean curve of summary[*][condition][metric] over p with a ± std band."""
    ps = np.array([r["p"] for r in summary])
    mean = np.array([r[condition][metric]["mean"] for r in summary])
    std = np.array([r[condition][metric]["std"] for r in summary])
    style = {"color": COLOURS[condition], "label": LABELS[condition], "marker": "o", "ms": 3, **style}
    ax.plot(ps, mean, **style)
    ax.fill_between(ps, mean - std, mean + std, color=style["color"], alpha=0.15, lw=0)


def plot_accuracy(result: dict[str, Any], path: Path) -> None:
    """Zero-shot accuracy vs p, ours (mean ± std over seeds) against the published curves (dashed)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for condition in ("raw", "recaptioned"):
        band(ax, result["summary"], condition, "accuracy")
        ax.plot(
            result["published"]["p"],
            result["published"][condition],
            ls="--",
            color=COLOURS[condition],
            alpha=0.7,
            label=f"{LABELS[condition]} (published)",
        )
    n = result["summary"][0]["raw"]["accuracy"]["n"]
    ax.set(
        xlabel="misaligned fraction p",
        ylabel="zero-shot accuracy (5 classes)",
        title=f"Out-of-domain zero-shot accuracy (mean ± std, {n} seeds)",
    )
    ax.axhline(1 / N_SEGMENTS, color="grey", lw=0.8, ls=":", label="chance")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save(fig, path)


def plot_purification(result: dict[str, Any], path: Path) -> None:
    """Purified-feature count and mean purified magnitude of the image encoder vs p."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    panels = (
        ("purified_features", "distinct purified features (of 50)"),
        ("purified_magnitude", "mean |Ŵ M| of purified neurons"),
    )
    for ax, (metric, ylabel) in zip(axes, panels, strict=True):
        for condition in ("raw", "recaptioned"):
            band(ax, result["summary"], condition, metric)
        ax.set(xlabel="misaligned fraction p", ylabel=ylabel)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("Feature purification of the image encoder (best threshold in 0.20–1.00)")
    save(fig, path)


def plot_alignment(result: dict[str, Any], path: Path) -> None:
    """Mean cosine of matched and unmatched clean pairs (x = Mz, y = Hz) vs p."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for condition in ("raw", "recaptioned"):
        band(ax, result["summary"], condition, "alignment_matched")
        band(ax, result["summary"], condition, "alignment_unmatched", ls=":", marker="x", label="_nolegend_")
    ax.set(
        xlabel="misaligned fraction p",
        ylabel="cos(f(x), g(y))",
        title="Clean-pair alignment: matched (solid) vs unmatched (dotted)",
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save(fig, path)


def plot_filter(result: dict[str, Any], path: Path) -> None:
    """How the filter treats the web pairs: replacement rates and misalignment before/after vs p."""
    fig, ax = plt.subplots(figsize=(6, 4))
    ps = [r["p"] for r in result["summary"]]
    curves = (
        ("replaced_misaligned", "replaced | misaligned"),
        ("replaced_aligned", "replaced | aligned"),
        ("misaligned_before", "misaligned before"),
        ("misaligned_after", "misaligned after"),
    )
    for key, label in curves:
        means = [r["filter"][key]["mean"] for r in result["summary"]]
        ax.plot(ps, [np.nan if m is None else m for m in means], marker="o", ms=3, label=label)
    ax.set(
        xlabel="misaligned fraction p",
        ylabel="fraction of the filtered web pairs",
        title="Recaptioning filter on S_w",
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save(fig, path)


def units_at(units: list[dict[str, Any]], p: float) -> list[dict[str, Any]]:
    """The units at misalignment p (seed order)."""
    return [u for u in units if math.isclose(u["p"], p)]


def plot_tsne(units: list[dict[str, Any]], tsne_p: float, path: Path) -> bool:
    """t-SNE of test-image features at p = tsne_p, raw vs recaptioned, coloured by dominant segment."""
    with_tsne = [u for u in units_at(units, tsne_p) if u["raw"].get("tsne")]
    if not with_tsne:
        return False
    unit = with_tsne[0]
    labels = np.asarray(unit["labels"])
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
    for ax, condition in zip(axes, ("raw", "recaptioned"), strict=True):
        xy = np.asarray(unit[condition]["tsne"])
        scatter = ax.scatter(xy[:, 0], xy[:, 1], c=labels, cmap="tab10", vmin=0, vmax=9, s=5)
        ax.set(
            title=f"{LABELS[condition]} (silhouette {unit[condition]['silhouette']:.2f})",
            xticks=[],
            yticks=[],
        )
    handles = [plt.Line2D([], [], ls="", marker="o", color=scatter.cmap(c / 9)) for c in range(N_SEGMENTS)]
    axes[1].legend(
        handles,
        [f"segment {c}" for c in range(N_SEGMENTS)],
        fontsize=7,
        loc="upper left",
        bbox_to_anchor=(1, 1),
    )
    fig.suptitle(f"t-SNE of image features f(x), p = {tsne_p}, seed {unit['seed']}")
    save(fig, path)
    return True


def plot_histograms(units: list[dict[str, Any]], tsne_p: float, path: Path) -> bool:
    """Histograms of |Ŵ M| and |V̂ H| entries at p = tsne_p (pooled over seeds), raw vs recaptioned."""
    at_p = units_at(units, tsne_p)
    if not at_p:
        return False
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, name in zip(
        axes, ("histogram_WM", "histogram_VH"), ("|Ŵ M| (image)", "|V̂ H| (text)"), strict=True
    ):
        for condition in ("raw", "recaptioned"):
            counts = np.sum([u[condition][key] for u in at_p], axis=0)
            edges = np.linspace(0, 1, len(counts) + 1)
            ax.stairs(counts, edges, color=COLOURS[condition], label=LABELS[condition], lw=1.5)
        ax.set(yscale="log", xlabel=name, ylabel="entries (log)", title=f"{name} at p = {tsne_p}")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    save(fig, path)
    return True


def write_all(
    result: dict[str, Any], units: list[dict[str, Any]], out_dir: Path, tsne_p: float
) -> list[Path]:
    """Writes every figure into out_dir; returns the paths written."""
    out_dir = Path(out_dir)
    written = []
    for name, plot in (
        ("accuracy_vs_p.png", plot_accuracy),
        ("purification_vs_p.png", plot_purification),
        ("alignment_vs_p.png", plot_alignment),
        ("filter_vs_p.png", plot_filter),
    ):
        plot(result, out_dir / name)
        written.append(out_dir / name)
    for name, plot in (("tsne.png", plot_tsne), ("loading_histograms.png", plot_histograms)):
        if plot(units, tsne_p, out_dir / name):
            written.append(out_dir / name)
    return written
