"""`recaption_summary.json` (step 6 of `recaption.pipeline`): replacements, scores, captioner quality.

`alignment`: scorer cosine of the candidates' pairs before / after (mean ± sd). With the `misaligned` ground
truth on the groups it also reports the filter's confusion matrix (caught / missed / wrongly replaced) and
`filter_with_true_captions`: the share of misaligned captions the filter would replace by their true caption,
i.e. the filter's recall with a perfect captioner (what the captioner, not the filter, costs is the gap).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from synthmphn.config import RunConfig
from synthmphn.data.manifest import Manifest
from synthmphn.data.shards import read_shard
from synthmphn.io import atomic_write_json, read_json
from synthmphn.recaption.base import Captioner
from synthmphn.recaption.metrics import caption_metrics, filter_quality, mean_sd
from synthmphn.recaption.shards import decode_image


def build_summary(
    cfg: RunConfig,
    src: Path,
    selection: str,
    per_shard: dict[str, list[dict[str, Any]]],
    state: Path,
    captioner: Captioner,
    source: Manifest,
) -> dict[str, Any]:
    """The numbers of a recaption run (`pipeline`'s docstring, step 6); `state` is OUT's recaption folder."""
    rows = [row for shard_rows in per_shard.values() for row in shard_rows]
    decided = [row["decision"] for row in rows if row["decision"] is not None]
    replaced = [d["replaced"] for d in decided]
    summary: dict[str, Any] = {
        "source": str(src),
        "captioner": cfg.recaption.captioner,
        "alpha": cfg.recaption.alpha,
        "seed": cfg.seed,
        "clean_selection": selection,
        "train_groups": len(rows),
        "clean_groups": len(rows) - len(decided),
        "candidates": len(decided),
        "replaced": sum(replaced),
        "replaced_share": sum(replaced) / len(decided) if decided else None,
        "new_equals_old": sum(d["new"] == d["old"] for d in decided),
        "mean_old_score": _mean([d["old_score"] for d in decided]),
        "mean_new_score": _mean([d["new_score"] for d in decided]),
        "per_shard": {path: _shard_counts(shard_rows) for path, shard_rows in per_shard.items()},
        "captioner_fit": _read_optional(state / "captioner" / "fit.json"),
        "captioner_heldout": evaluate_captioner(captioner, source, cfg, state / "captioner_eval.json"),
    }
    truth = [row for row in rows if row["decision"] is not None]
    summary["alignment"] = alignment(truth)
    if truth and any(row["misaligned"] for row in truth):
        summary["misaligned"] = filter_quality(
            [row["decision"]["replaced"] for row in truth], [bool(row["misaligned"]) for row in truth]
        )
    summary["filter_with_true_captions"] = true_caption_recall(truth)
    return summary


def true_caption_recall(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """How many misaligned candidates the filter would replace by their TRUE caption (a perfect captioner):
    {"misaligned", "caught", "recall"}; None when no row has that verdict (no misaligned candidates, or
    decisions written before it was recorded)."""
    verdicts = [row["true_caption_decision"] for row in rows if "true_caption_decision" in row]
    if not verdicts:
        return None
    caught = sum(v["replaced"] for v in verdicts)
    return {"misaligned": len(verdicts), "caught": caught, "recall": caught / len(verdicts)}


def alignment(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Scorer cosine of the candidates' (images, caption) pairs before (old caption) and after (kept caption),
    mean ± sd over all candidates and over the aligned ones (the misaligned ones where the truth is known).

    The paper's BLIP figure compares the same numbers for web pairs vs CapFilt pairs.
    """
    subsets = {"all": rows, "aligned": [r for r in rows if not r["misaligned"]]}
    if any(r["misaligned"] for r in rows):
        subsets["misaligned"] = [r for r in rows if r["misaligned"]]
    out = {}
    for name, subset in subsets.items():
        decisions = [r["decision"] for r in subset]
        out[name] = {
            "before": mean_sd([d["old_score"] for d in decisions]),
            "after": mean_sd([d["new_score"] if d["replaced"] else d["old_score"] for d in decisions]),
        }
    return out


def _shard_counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    """groups / candidates / replaced of one shard."""
    decided = [row["decision"] for row in rows if row["decision"] is not None]
    return {"groups": len(rows), "candidates": len(decided), "replaced": sum(d["replaced"] for d in decided)}


def _mean(values: list[float]) -> float | None:
    """The mean, or None for no values."""
    return sum(values) / len(values) if values else None


def _read_optional(path: Path) -> Any:
    """JSON content of `path`, or None when it does not exist."""
    return read_json(path) if path.exists() else None


def evaluate_captioner(
    captioner: Captioner, source: Manifest, cfg: RunConfig, cache: Path
) -> dict[str, Any] | None:
    """Exact match, subject and attribute accuracy of the captioner on the base images of the first heldout groups.

    The heldout split has unseen captions drawn by `splits.reference_pool` (faithful training-like styles;
    the training pool when that is null), so it measures how the captioner generalises. The result is cached in `cache` (a resumed run does not caption again).
    """
    n = cfg.recaption.eval_groups
    entries = source.entries("heldout")
    if n == 0 or not entries:
        return None
    if cache.exists() and read_json(cache).get("groups_asked") == n:
        return read_json(cache)
    groups = 0
    images, references, subjects, attributes = [], [], [], []
    for entry in entries:
        for group, data in read_shard(source.shard_path(entry)):
            if groups >= n or group.spec is None:
                break
            groups += 1
            for record in group.images:
                images.append(decode_image(data[record.key]))
                references.append(group.caption)
                subjects.append(group.spec.subject)
                attributes.append(group.spec.attributes)
    if not images:
        return None
    result = {
        **caption_metrics(captioner.caption(images), references, subjects, attributes),
        "groups": groups,
        "groups_asked": n,
    }
    atomic_write_json(cache, result)
    return result
