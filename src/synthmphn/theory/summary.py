"""Summaries of the sweep: mean ± std over seeds per p, the paper's claims, the published numbers."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.stats import rankdata

CONDITIONS = ("raw", "recaptioned")
PUBLISHED = {
    "source": "Sun, Zhang, Li, Wang (ICML'25 submission), simulation; mean of the best 10 of 15 runs",
    "p": [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5],
    "raw": [0.981, 0.963, 0.942, 0.930, 0.899, 0.871, 0.816, 0.797, 0.683, 0.640, 0.563],
    "recaptioned": [0.979, 0.966, 0.952, 0.945, 0.931, 0.905, 0.905, 0.872, 0.829, 0.785, 0.717],
}
SUMMARY_METRICS = (
    "accuracy",
    "purified_features",
    "purified_neurons",
    "purified_magnitude",
    "text_purified_features",
    "alignment_matched",
    "alignment_unmatched",
    "alignment_gap",
    "silhouette",
    "final_loss",
)


def mean_std(values: list[float | None]) -> dict[str, float | None]:
    """Mean and sample standard deviation (0 for a single value) of the values that are not None."""
    arr = np.asarray([v for v in values if v is not None], dtype=float)
    if arr.size == 0:
        return {"mean": None, "std": None, "n": 0}
    return {
        "mean": float(arr.mean()),
        "std": float(arr.std(ddof=1)) if arr.size > 1 else 0.0,
        "n": int(arr.size),
    }


def summarize(units: list[dict[str, Any]], ps: list[float]) -> list[dict[str, Any]]:
    """Per p: mean ± std over seeds of every summary metric per condition, and of the filter statistics."""
    rows = []
    for p in ps:
        at_p = [u for u in units if math.isclose(u["p"], p)]
        row: dict[str, Any] = {"p": p}
        for condition in CONDITIONS:
            row[condition] = {m: mean_std([u[condition][m] for u in at_p]) for m in SUMMARY_METRICS}
        row["filter"] = {k: mean_std([u["filter"][k] for u in at_p]) for k in at_p[0]["filter"]}
        rows.append(row)
    return rows


def spearman(x: list[float], y: list[float]) -> float:
    """Spearman rank correlation (average ranks for ties); 0 when either side is constant."""
    rx, ry = rankdata(x), rankdata(y)
    if rx.std() == 0 or ry.std() == 0:
        return 0.0
    return float(np.corrcoef(rx, ry)[0, 1])


def check_claims(summary: list[dict[str, Any]], tsne_p: float) -> dict[str, Any]:
    """The paper's claims, tested on the mean curves."""
    ps = [r["p"] for r in summary]
    raw = [r["raw"]["accuracy"]["mean"] for r in summary]
    rec = [r["recaptioned"]["accuracy"]["mean"] for r in summary]
    gap = [b - a for a, b in zip(raw, rec, strict=True)]
    later = [i for i, p in enumerate(ps) if p >= 0.05 - 1e-9]
    pur_raw = [summary[i]["raw"]["purified_features"]["mean"] for i in later]
    pur_rec = [summary[i]["recaptioned"]["purified_features"]["mean"] for i in later]
    at_tsne = [r for r in summary if math.isclose(r["p"], tsne_p)]
    slope = float(np.polyfit(ps, gap, 1)[0]) if len(ps) > 1 else 0.0
    return {
        "raw_falls_with_p": {
            "spearman": spearman(ps, raw),
            "holds": len(ps) > 1 and spearman(ps, raw) < 0 and raw[-1] < raw[0],
        },
        "recaptioned_ge_raw_for_p_ge_0.05": {
            "failing_p": [ps[i] for i in later if rec[i] < raw[i]],
            "holds": bool(later) and all(rec[i] >= raw[i] for i in later),
        },
        "gap_widens_with_p": {"slope": slope, "spearman": spearman(ps, gap), "holds": slope > 0},
        "more_purified_features_after_recaptioning": {
            "raw_mean": float(np.mean(pur_raw)) if later else 0.0,
            "recaptioned_mean": float(np.mean(pur_rec)) if later else 0.0,
            "holds": bool(later) and float(np.mean(pur_rec)) > float(np.mean(pur_raw)),
        },
        "cleaner_clusters_at_tsne_p": {
            "raw_silhouette": at_tsne[0]["raw"]["silhouette"]["mean"] if at_tsne else None,
            "recaptioned_silhouette": at_tsne[0]["recaptioned"]["silhouette"]["mean"] if at_tsne else None,
            "holds": bool(at_tsne)
            and at_tsne[0]["recaptioned"]["silhouette"]["mean"] > at_tsne[0]["raw"]["silhouette"]["mean"],
        },
    }


def compact_unit(unit: dict[str, Any]) -> dict[str, Any]:
    """A unit without its bulky parts (t-SNE, histograms, label list), for simulation.json."""
    drop = {"tsne", "histogram_WM", "histogram_VH"}
    return {
        "p": unit["p"],
        "seed": unit["seed"],
        "filter": unit["filter"],
        **{c: {k: v for k, v in unit[c].items() if k not in drop} for c in CONDITIONS},
    }
