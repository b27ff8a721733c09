"""Plots written by eval tasks (PNG, written atomically). Uses matplotlib's object API, no pyplot state."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from threadpoolctl import threadpool_limits

from synthmphn.eval.base import EVAL_SEED
from synthmphn.io import atomic_write_bytes


def save_figure(fig: Figure, path: Path, dpi: int = 110) -> Path:
    """Saves `fig` as PNG at `path` (atomic)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    atomic_write_bytes(path, buffer.getvalue())
    return path


def tsne_embedding(features: np.ndarray, seed: int = EVAL_SEED) -> np.ndarray:
    """[N, 2] t-SNE of the rows (PCA init, perplexity <= 30); identical rows all map to the origin."""
    from sklearn.manifold import TSNE

    if len(features) < 3 or float(np.ptp(features, axis=0).max()) < 1e-8:
        return np.zeros((len(features), 2))
    perplexity = float(min(30.0, (len(features) - 1) / 3))
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed)
    # One OpenMP thread: t-SNE's parallel loops spin-wait, which is many times slower on a busy machine.
    with threadpool_limits(limits=1):
        return tsne.fit_transform(features)


def save_tsne(
    features: np.ndarray, labels: np.ndarray, classnames: list[str], path: Path, title: str
) -> Path:
    """Scatter of the t-SNE embedding, one colour per class, legend with the class names."""
    xy = tsne_embedding(features)
    fig = Figure(figsize=(6.4, 5.2))
    ax = fig.subplots()
    colours = [f"C{i % 10}" for i in range(len(classnames))]
    for c in np.unique(labels):
        mask = labels == c
        ax.scatter(xy[mask, 0], xy[mask, 1], s=9, alpha=0.8, color=colours[int(c)], label=classnames[int(c)])
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    if len(np.unique(labels)) <= 20:
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, markerscale=2, frameon=False)
    return save_figure(fig, path)


def save_tradeoff_scatter(rows: list[dict], path: Path, title: str) -> Path:
    """Recognizability (y) vs diversity (x): one point per generator (star: the held-out style), legend names."""
    fig = Figure(figsize=(6.4, 4.6))
    ax = fig.subplots()
    for i, row in enumerate(rows):
        if row.get("diversity") is None:
            continue
        star = bool(row.get("heldout_style"))
        label = f"{row['generator']} (held-out style)" if star else row["generator"]
        ax.scatter(
            row["diversity"], row["recognizability"], s=150 if star else 60, marker="*" if star else "o",
            color=f"C{i % 10}", edgecolor="black", linewidth=0.5, alpha=0.85, zorder=3, label=label,
        )  # fmt: skip
    ax.set_xlabel("diversity (mean pairwise cosine distance within a class)")
    ax.set_ylabel("recognizability (share classified correctly)")
    ax.set_ylim(-0.03, 1.05)
    ax.grid(alpha=0.3)
    ax.set_title(title)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, fontsize=9)
    return save_figure(fig, path)
