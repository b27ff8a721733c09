"""Summaries of the sweep: mean ± std over seeds per p, the paper's claims, the published numbers.

Claims comparing recaptioned with raw are verdicts of `synthmphn.stats` (paired per-seed differences, 95 %
t-interval): "held" only when the interval excludes 0.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.stats import rankdata

from synthmphn.stats import HELD, REVERSED, PairedComparison, paired_by_seed

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


def units_at(units: list[dict[str, Any]], ps: list[float]) -> list[dict[str, Any]]:
    """The units whose p is one of `ps`."""
    return [u for u in units if any(math.isclose(u["p"], p) for p in ps)]


def paired_gain(units: list[dict[str, Any]], ps: list[float], metric: str) -> PairedComparison:
    """recaptioned − raw on `metric`, paired by (p, seed) over the units at the given p (`synthmphn.stats`)."""
    at = units_at(units, ps)
    rec = {(u["p"], u["seed"]): u["recaptioned"][metric] for u in at}
    raw = {(u["p"], u["seed"]): u["raw"][metric] for u in at}
    return paired_by_seed(rec, raw)


def recaptioned_beats_raw(units: list[dict[str, Any]], later: list[float]) -> dict[str, Any]:
    """Per p of `later`: the paired per-seed CI of recaptioned − raw accuracy; overall verdict "held" only
    when every p is held, "reversed" when any p is reversed, else "not separable"."""
    by_p = {p: paired_gain(units, [p], "accuracy") for p in later}
    verdicts = [c.verdict for c in by_p.values()]
    if verdicts and all(v == HELD for v in verdicts):
        verdict = HELD
    elif REVERSED in verdicts:
        verdict = REVERSED
    else:
        verdict = "not separable"
    return {
        "verdict": verdict,
        "holds": verdict == HELD,
        "held_p": [p for p, c in by_p.items() if c.verdict == HELD],
        "reversed_p": [p for p, c in by_p.items() if c.verdict == REVERSED],
        "by_p": [{"p": p, **c.to_dict()} for p, c in by_p.items()],
    }


def check_claims(summary: list[dict[str, Any]], units: list[dict[str, Any]], tsne_p: float) -> dict[str, Any]:
    """The paper's claims. Recaptioned-vs-raw claims come from paired per-seed 95 % t-intervals
    (`synthmphn.stats`); the trend claims (falls, widens) from the mean curves."""
    ps = [r["p"] for r in summary]
    raw = [r["raw"]["accuracy"]["mean"] for r in summary]
    rec = [r["recaptioned"]["accuracy"]["mean"] for r in summary]
    gap = [b - a for a, b in zip(raw, rec, strict=True)]
    later = [p for p in ps if p >= 0.05 - 1e-9]
    purified = paired_gain(units, later, "purified_features")
    at_later = units_at(units, later)
    at_tsne = [r for r in summary if math.isclose(r["p"], tsne_p)]
    slope = float(np.polyfit(ps, gap, 1)[0]) if len(ps) > 1 else 0.0
    return {
        "raw_falls_with_p": {
            "spearman": spearman(ps, raw),
            "holds": len(ps) > 1 and spearman(ps, raw) < 0 and raw[-1] < raw[0],
        },
        "recaptioned_ge_raw_for_p_ge_0.05": recaptioned_beats_raw(units, later),
        "gap_widens_with_p": {"slope": slope, "spearman": spearman(ps, gap), "holds": slope > 0},
        "more_purified_features_after_recaptioning": {
            **{
                f"{c}_mean": float(np.mean([u[c]["purified_features"] for u in at_later]))
                if at_later
                else 0.0
                for c in CONDITIONS
            },
            **purified.to_dict(),
            "holds": purified.verdict == HELD,
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
