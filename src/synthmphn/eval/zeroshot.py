"""Zero-shot classification: class names x prompt templates, top-1/top-5, per-class accuracy.

Class weights exactly as CLIP_benchmark builds them: for class c with templates t_1..t_T,

    w_c = normalise( mean_t normalise(g(t(c))) ),    logits = 100 * f(x) . w_c

and we report acc1, acc5 (only with >= 5 classes, as CLIP_benchmark), mean per-class recall (balanced
accuracy over the classes present) and each class's top-1 accuracy. Ties follow `eval.ranking` (expected
value under a random order). Datasets: the built-in real sets (sklearn digits, MNIST, Fashion-MNIST; a set
that is not installed is recorded as an error naming how to install it, the others still run), the
held-out captions (drawn by `splits.reference_pool`, shared by every variant of a grid; see eval/sets.py), the
held-out procedural style, and every `eval.datasets` entry.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from synthmphn.config import EvalConfig
from synthmphn.eval.base import EVAL_TASKS, Encoder, TaskResult, prefixed, recording_errors
from synthmphn.eval.datasets import REAL_SETS, LabelledImages
from synthmphn.eval.features import image_features, normalise_rows, text_features
from synthmphn.eval.groups import HELDOUT, HELDOUT_STYLE, split_subject_images
from synthmphn.eval.ranking import expected_top_k
from synthmphn.eval.user_datasets import load_user_dataset


def classifier_weights(encoder: Encoder, classnames: list[str], templates: list[str]) -> np.ndarray:
    """[C, D] zero-shot weights: normalised mean of the normalised template embeddings of each class."""
    texts = [template.format(c=name) for name in classnames for template in templates]
    features = text_features(encoder, texts).reshape(len(classnames), len(templates), -1)
    return normalise_rows(features.mean(axis=1))


def classification_metrics(
    logits: np.ndarray, labels: np.ndarray, classnames: list[str]
) -> tuple[dict, list]:
    """acc1, acc5 (>= 5 classes), mean per-class recall; plus one row per class present in `labels`."""
    labels = np.asarray(labels)
    top1 = expected_top_k(logits, labels, 1)
    metrics: dict[str, Any] = {"acc1": float(top1.mean())}
    if len(classnames) >= 5:
        metrics["acc5"] = float(expected_top_k(logits, labels, 5).mean())
    rows = [
        {"class": classnames[c], "n": int((labels == c).sum()), "acc1": float(top1[labels == c].mean())}
        for c in np.unique(labels)
    ]
    metrics["mean_per_class_recall"] = float(np.mean([row["acc1"] for row in rows]))
    metrics["n_images"] = len(labels)
    metrics["n_classes"] = len(classnames)
    return metrics, rows


def evaluate_zeroshot(encoder: Encoder, data: LabelledImages, batch_size: int = 256) -> tuple[dict, list]:
    """Zero-shot metrics and per-class rows of `encoder` on one labelled set."""
    weights = classifier_weights(encoder, data.classnames, data.templates)
    logits = 100.0 * image_features(encoder, data.images, batch_size) @ weights.T
    return classification_metrics(logits, data.labels, data.classnames)


def zeroshot_sets(
    dataset_dir: Path | None, config: EvalConfig
) -> list[tuple[str, Callable[[], LabelledImages]]]:
    """(name, loader) of every set the zero-shot and probe tasks evaluate, the real sets first."""
    sets: list[tuple[str, Callable[[], LabelledImages]]] = [
        *REAL_SETS.items(),
        (HELDOUT, lambda: split_subject_images(dataset_dir, HELDOUT)),
        (HELDOUT_STYLE, lambda: split_subject_images(dataset_dir, HELDOUT_STYLE)),
    ]
    for user in config.datasets:
        if user.name in {name for name, _ in sets}:
            sets.append((f"{user.name} (duplicate)", lambda user=user: _duplicate(user.name)))
        else:
            sets.append((user.name, lambda user=user: load_user_dataset(user)))
    return sets


def _duplicate(name: str) -> LabelledImages:
    raise ValueError(
        f"eval.datasets: the name {name!r} is taken ({', '.join(REAL_SETS)}, heldout, heldout_style and "
        "names must be unique)"
    )


@EVAL_TASKS.register("zeroshot")
def zeroshot_task(
    encoder: Encoder, dataset_dir: Path | None, out_dir: Path, config: EvalConfig
) -> TaskResult:
    """Zero-shot classification on real digits, held-out captions, the held-out style and user datasets."""
    result = TaskResult()
    for name, load in zeroshot_sets(dataset_dir, config):
        with recording_errors(result, name):
            metrics, rows = evaluate_zeroshot(encoder, load(), config.batch_size)
            result.metrics.update(prefixed(name, metrics))
            result.tables[f"{name}/per_class"] = rows
    return result
