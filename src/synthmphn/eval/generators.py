"""Generator analysis: recognizability vs diversity per generator of the pool (the thesis's trade-off).

Over the run's own pool (images of the `train` split, at most `MAP_IMAGES` per generator, subsampled with
EVAL_SEED; the `heldout` split instead for a dataset without one) plus the `heldout_style` split (drawn by the
held-out style), grouped by the generator that drew it. Not `heldout` when there is a train split: that is
drawn by `splits.reference_pool`, the same for every variant, so it would not show the run's pool.

    recognizability = share of its images whose subject the reference model classifies correctly
    diversity       = mean over classes c of  mean_{i<j} (1 - cos(f(x_i), f(x_j)))  for its images of c

f is the feature map and "classifies" the logits of a FIXED reference model (`eval.reference_model`, see
`eval.reference`): by default the embedded world's reference classifier, trained once on ground-truth
subjects of a separate render set; otherwise any open_clip model, zero-shot. Never the evaluated model:
the map is a property of the dataset, the same whatever CLIP is trained on it (and `synthmphn analyse`
draws it before any is). Diversity only counts classes with >= 2 images of the generator (at most
`MAX_PER_CLASS`, subsampled).
Output: `<generator>/recognizability`, `<generator>/diversity`, table `generators`, plot `generators`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from synthmphn.config import EvalConfig
from synthmphn.data.manifest import Manifest
from synthmphn.eval.base import EVAL_SEED, EVAL_TASKS, Encoder, TaskResult, recording_errors
from synthmphn.eval.groups import HELDOUT, HELDOUT_STYLE, GroupSource, open_split, read_classes, split_images
from synthmphn.eval.plots import save_tradeoff_scatter
from synthmphn.eval.ranking import expected_top_k
from synthmphn.eval.reference import Reference, load_reference

MAX_PER_CLASS = 256
MAP_IMAGES = 500
"""Images judged per generator (base and negatives, subsampled with EVAL_SEED): bounds the train split's cost."""
TRAIN = "train"


def mean_pairwise_distance(features: np.ndarray) -> float:
    """Mean cosine distance 1 - x_i.x_j over distinct pairs of normalised rows."""
    n = len(features)
    gram = features @ features.T
    return float(1.0 - (gram.sum() - np.trace(gram)) / (n * (n - 1)))


def class_diversity(features: np.ndarray, labels: np.ndarray, seed: int = EVAL_SEED) -> float | None:
    """Mean over classes with >= 2 rows of their mean pairwise cosine distance (None when no such class)."""
    rng = np.random.default_rng(seed)
    values = []
    for c in np.unique(labels):
        rows = np.flatnonzero(labels == c)
        if len(rows) < 2:
            continue
        if len(rows) > MAX_PER_CLASS:
            rows = rng.choice(rows, MAX_PER_CLASS, replace=False)
        values.append(mean_pairwise_distance(features[rows]))
    return float(np.mean(values)) if values else None


def generator_rows(
    features: np.ndarray,
    logits: np.ndarray,
    labels: np.ndarray,
    generators: list[str],
    heldout_style: set[str],
) -> list[dict[str, Any]]:
    """One row per generator: n_images, recognizability, diversity, n_classes, heldout_style."""
    correct = expected_top_k(logits, labels, 1)
    names = np.array(generators)
    rows = []
    for name in sorted(set(generators)):
        mask = names == name
        rows.append(
            {
                "generator": name,
                "n_images": int(mask.sum()),
                "recognizability": float(correct[mask].mean()),
                "diversity": class_diversity(features[mask], labels[mask]),
                "n_classes": len(np.unique(labels[mask])),
                "heldout_style": name in heldout_style,
            }
        )
    return rows


def reference_for(config: EvalConfig) -> Reference:
    """The reference model named by `eval.reference_model` (one place, so callers and tests share it)."""
    return load_reference(config.reference_model, config.device, config.batch_size)


def pool_source(dataset_dir: Path | None) -> tuple[str, GroupSource]:
    """(split, groups) showing the run's own generator pool: `train`, or `heldout` for a dataset without it."""
    if dataset_dir is not None and TRAIN in Manifest.load(Path(dataset_dir), missing_ok=True).splits():
        return TRAIN, open_split(dataset_dir, TRAIN)
    return HELDOUT, open_split(dataset_dir, HELDOUT)


def capped(generators: list[str], limit: int | None = None, seed: int = EVAL_SEED) -> np.ndarray:
    """Indices keeping at most `limit` (default `MAP_IMAGES`) images per generator (seeded subsample, in order)."""
    limit = MAP_IMAGES if limit is None else limit
    names = np.array(generators)
    rng = np.random.default_rng(seed)
    keep = []
    for name in sorted(set(generators)):
        rows = np.flatnonzero(names == name)
        keep.append(np.sort(rng.choice(rows, limit, replace=False)) if len(rows) > limit else rows)
    return np.sort(np.concatenate(keep)) if keep else np.array([], dtype=int)


@EVAL_TASKS.register("generators")
def generators_task(
    encoder: Encoder, dataset_dir: Path | None, out_dir: Path, config: EvalConfig
) -> TaskResult:
    """Per-generator recognizability and diversity of the run's pool and the held-out style, judged by the
    reference model (the evaluated `encoder` is not used: the map must not depend on the run)."""
    result = TaskResult()
    sources: dict[str, GroupSource] = {}
    with recording_errors(result, "pool"):
        split, source = pool_source(dataset_dir)
        sources[split] = source
    with recording_errors(result, HELDOUT_STYLE):
        sources[HELDOUT_STYLE] = open_split(dataset_dir, HELDOUT_STYLE)
    if not sources:
        return result
    classes = read_classes(dataset_dir, list(sources.values()))
    parts = {split: split_images(source, classes, split) for split, source in sources.items()}
    images, labels, generators = [], [], []
    for part in parts.values():
        keep = capped(part.generators)
        images += [part.labelled.images[int(i)] for i in keep]
        labels.append(part.labelled.labels[keep])
        generators += [part.generators[int(i)] for i in keep]
    style = set(parts[HELDOUT_STYLE].generators) if HELDOUT_STYLE in parts else set()
    for split, part in parts.items():
        if split != HELDOUT_STYLE:
            style -= set(part.generators)
    reference = reference_for(config)
    logits, features = reference.judge(images, [c.subject for c in classes])
    rows = generator_rows(features, logits, np.concatenate(labels), generators, style)
    result.tables["generators"] = rows
    result.metrics["reference_model"] = reference.name
    for row in rows:
        result.metrics[f"{row['generator']}/recognizability"] = row["recognizability"]
        if row["diversity"] is not None:
            result.metrics[f"{row['generator']}/diversity"] = row["diversity"]
    result.plots["generators"] = save_tradeoff_scatter(
        rows,
        out_dir / "generators.png",
        f"Generators: recognizability vs diversity (reference: {reference.name})",
    )
    return result
