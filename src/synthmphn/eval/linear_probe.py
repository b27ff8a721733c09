"""Linear probe on frozen image features: how much class information the image tower keeps.

Protocol (fixed seed `EVAL_SEED`, so every run is probed on the same splits):
1. split the set into train / test halves, stratified by class;
2. choose C for scikit-learn's LogisticRegression (on standardised features, max_iter 1000) from
   `C_GRID` by accuracy on a stratified 25% validation part of the train half;
3. refit on the whole train half with that C and report test accuracy (`<set>_acc`, `<set>_C`).
Classes with fewer than `MIN_PER_CLASS` images are dropped (a stratified split needs a few of each).
Sets: those of `zeroshot_sets` (the real sets: digits, MNIST, Fashion-MNIST; the held-out splits; user sets).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from synthmphn.config import EvalConfig
from synthmphn.eval.base import EVAL_SEED, EVAL_TASKS, Encoder, TaskResult, recording_errors
from synthmphn.eval.features import image_features
from synthmphn.eval.zeroshot import zeroshot_sets

C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)
MIN_PER_CLASS = 4


def _probe(c: float) -> Any:
    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=1000))


def _fit_score(
    c: float, x_fit: np.ndarray, y_fit: np.ndarray, x_eval: np.ndarray, y_eval: np.ndarray
) -> float:
    if len(np.unique(y_fit)) < 2:  # one class: every prediction is that class
        return float((y_eval == y_fit[0]).mean())
    return float(_probe(c).fit(x_fit, y_fit).score(x_eval, y_eval))


def linear_probe(features: np.ndarray, labels: np.ndarray, seed: int = EVAL_SEED) -> dict[str, Any]:
    """Test accuracy of a logistic-regression probe with C chosen on a validation split (see module doc)."""
    labels = np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    keep = np.isin(labels, classes[counts >= MIN_PER_CLASS])
    x, y = features[keep], labels[keep]
    if len(np.unique(y)) < 2:
        raise ValueError(f"a linear probe needs >= 2 classes with >= {MIN_PER_CLASS} images each")
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.5, stratify=y, random_state=seed)
    stratify = y_train if _can_stratify(y_train) else None
    x_fit, x_val, y_fit, y_val = train_test_split(
        x_train, y_train, test_size=0.25, stratify=stratify, random_state=seed
    )
    scores = [_fit_score(c, x_fit, y_fit, x_val, y_val) for c in C_GRID]
    best_c = C_GRID[int(np.argmax(scores))]  # first (smallest) C on ties: the most regularised
    return {
        "acc": _fit_score(best_c, x_train, y_train, x_test, y_test),
        "C": best_c,
        "val_acc": max(scores),
        "n_train": len(y_train),
        "n_test": len(y_test),
        "n_classes": len(np.unique(y)),
    }


def _can_stratify(y: np.ndarray) -> bool:
    """A 25% stratified split needs >= 2 of each class and a validation part with room for every class."""
    _, counts = np.unique(y, return_counts=True)
    return bool(counts.min() >= 2 and int(np.ceil(0.25 * len(y))) >= len(counts))


@EVAL_TASKS.register("linear_probe")
def linear_probe_task(
    encoder: Encoder, dataset_dir: Path | None, out_dir: Path, config: EvalConfig
) -> TaskResult:
    """Probe accuracy on real digits, the held-out style and the user's datasets (`<set>_acc`)."""
    result = TaskResult()
    for name, load in zeroshot_sets(dataset_dir, config):
        with recording_errors(result, name):
            data = load()
            probe = linear_probe(image_features(encoder, data.images, config.batch_size), data.labels)
            result.metrics.update({f"{name}_{key}": value for key, value in probe.items()})
    return result
