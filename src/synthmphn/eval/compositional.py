"""Compositional hard negatives: does the model prefer the true caption, and the true image?

For each held-out group with caption y, base images x_1..x_m and a hard negative (caption y', images
x'_1..x'_m drawn with the same generator and seed as the base images, paired by index):

    text side:   cos(x_i, y) > cos(x_i, y')    for every base image i
    image side:  cos(y, x_i) > cos(y, x'_i)    for every index i both lists have

Ties count 1/2 (the random tie rule of `eval.ranking`), so a constant embedding scores exactly 0.5 and
a perfect one 1. Reported per negative kind (`subject`, `colour`, `size`, `position`, `count`, ...) as
`text/<kind>`, `image/<kind>`, plus the micro-averages `text_acc`, `image_acc` over all comparisons.
SugarCrepe-format files from `eval.sugarcrepe` add `sugarcrepe/<category>` and the micro-average
`sugarcrepe/acc`; a broken file is recorded as an error while the rest still run.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from synthmphn.config import EvalConfig
from synthmphn.eval.base import EVAL_TASKS, Encoder, TaskResult, recording_errors
from synthmphn.eval.features import image_features, text_features
from synthmphn.eval.groups import HELDOUT, GroupSource, open_split, store_images
from synthmphn.eval.ranking import pairwise_wins
from synthmphn.eval.sugarcrepe import read_sugarcrepe, sugarcrepe_wins


def kind_label(kind: str) -> str:
    """`attribute:colour` -> `colour`; `subject` stays `subject`."""
    return kind.removeprefix("attribute:")


def _index_refs(source: GroupSource) -> tuple[list[tuple[int, str]], dict[tuple[int, str], int]]:
    refs = []
    for gi, group in enumerate(source.groups):
        refs += [(gi, r.key) for r in group.images]
        for negative in group.negatives:
            refs += [(gi, r.key) for r in negative.images]
    return refs, {ref: i for i, ref in enumerate(refs)}


def compositional_wins(
    encoder: Encoder, source: GroupSource, batch_size: int = 256
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per negative kind, the text-side and image-side wins (1 / 0.5 / 0) of every comparison."""
    refs, row = _index_refs(source)
    images = image_features(encoder, store_images(source, refs), batch_size) if refs else np.zeros((0, 1))
    texts = [g.caption for g in source.groups]
    negative_texts = [n.text for g in source.groups for n in g.negatives]
    captions = text_features(encoder, texts)
    negatives = text_features(encoder, negative_texts) if negative_texts else np.zeros((0, captions.shape[1]))
    text_side: dict[str, list[np.ndarray]] = defaultdict(list)
    image_side: dict[str, list[np.ndarray]] = defaultdict(list)
    j = 0
    for gi, group in enumerate(source.groups):
        base = images[[row[(gi, r.key)] for r in group.images]]
        for negative in group.negatives:
            kind = kind_label(negative.kind)
            if len(base):
                text_side[kind].append(pairwise_wins(base @ captions[gi], base @ negatives[j]))
            pairs = min(len(base), len(negative.images))
            if pairs:
                neg_images = images[[row[(gi, r.key)] for r in negative.images[:pairs]]]
                image_side[kind].append(pairwise_wins(base[:pairs] @ captions[gi], neg_images @ captions[gi]))
            j += 1
    return (
        {k: np.concatenate(v) for k, v in text_side.items()},
        {k: np.concatenate(v) for k, v in image_side.items()},
    )


def summarise(text_side: dict[str, np.ndarray], image_side: dict[str, np.ndarray]) -> tuple[dict, list]:
    """Per-kind and micro-averaged accuracies, plus one table row per kind."""
    if not text_side and not image_side:
        raise ValueError("no hard negatives with images in the held-out split")
    metrics: dict[str, Any] = {}
    rows = []
    for kind in sorted(set(text_side) | set(image_side)):
        row: dict[str, Any] = {"kind": kind}
        for side, wins in (("text", text_side), ("image", image_side)):
            if kind in wins:
                metrics[f"{side}/{kind}"] = row[f"{side}_acc"] = float(wins[kind].mean())
                row[f"n_{side}"] = len(wins[kind])
        rows.append(row)
    for side, wins in (("text", text_side), ("image", image_side)):
        if wins:
            metrics[f"{side}_acc"] = float(np.concatenate(list(wins.values())).mean())
            metrics[f"n_{side}"] = int(sum(len(w) for w in wins.values()))
    return metrics, rows


def run_sugarcrepe(encoder: Encoder, config: EvalConfig, result: TaskResult) -> None:
    """Adds `sugarcrepe/<category>` per readable file and the micro-average over them."""
    all_wins = []
    for path in config.sugarcrepe:
        with recording_errors(result, "sugarcrepe"):
            wins = sugarcrepe_wins(
                encoder, read_sugarcrepe(path, config.sugarcrepe_images), config.batch_size
            )
            result.metrics[f"sugarcrepe/{Path(path).stem}"] = float(wins.mean())
            all_wins.append(wins)
    if all_wins:
        result.metrics["sugarcrepe/acc"] = float(np.concatenate(all_wins).mean())


@EVAL_TASKS.register("compositional")
def compositional_task(
    encoder: Encoder, dataset_dir: Path | None, out_dir: Path, config: EvalConfig
) -> TaskResult:
    """Hard-negative accuracy per kind on held-out groups, plus any SugarCrepe files."""
    result = TaskResult()
    with recording_errors(result, HELDOUT):
        metrics, rows = summarise(
            *compositional_wins(encoder, open_split(dataset_dir, HELDOUT), config.batch_size)
        )
        result.metrics.update(metrics)
        result.tables["per_kind"] = rows
    run_sugarcrepe(encoder, config, result)
    return result
