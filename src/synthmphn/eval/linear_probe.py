"""Linear probe on frozen image features: how much class information the image tower keeps.

Protocol (fixed seed `EVAL_SEED`, so every run is probed on the same splits):
1. split the set into train / test halves, stratified by class and BY GROUP: all images of one group
   (a synthetic caption's base and hard-negative images share seed and layout, so they are
   near-duplicates) land on the same side, else the probe could score by recognising the layout;
2. choose C for scikit-learn's LogisticRegression (on standardised features, max_iter 1000) from
   `C_GRID` by accuracy on a 25% validation part of the train half (split the same way); the test half
   is never looked at before the final score;
3. refit on the whole train half with that C and report test accuracy (`<set>_acc`, `<set>_C`).
The fits run with one BLAS thread: at these sizes (a few thousand images × a few hundred features)
OpenBLAS's threads cost more than they share, and on a busy 2-core machine far more (a 5-C search on
3,750 × 256 features: 9-11 s with numpy's 2 threads beside a training run, 1.1-1.3 s with 1; same scores).
Sets without groups (real digits, user datasets) count every image as its own group: a plain stratified
split. Group splits use scikit-learn's StratifiedGroupKFold (first of 2 folds for the test half, first of 4
for validation). Classes with fewer than `MIN_PER_CLASS` images are dropped (a stratified split needs a
few of each). Sets: those of `zeroshot_sets` (the real sets: digits, MNIST, Fashion-MNIST; the held-out splits; user sets).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

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


def linear_probe(
    features: np.ndarray, labels: np.ndarray, groups: np.ndarray | None = None, seed: int = EVAL_SEED
) -> dict[str, Any]:
    """Test accuracy of a logistic-regression probe with C chosen on a validation split (see module doc).

    `groups[i]` is image i's group (None: every image its own group); no group spans train and test.
    """
    labels = np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    keep = np.isin(labels, classes[counts >= MIN_PER_CLASS])
    x, y = features[keep], labels[keep]
    g = None if groups is None else np.asarray(groups)[keep]
    if len(np.unique(y)) < 2:
        raise ValueError(f"a linear probe needs >= 2 classes with >= {MIN_PER_CLASS} images each")
    train, test = probe_split(y, g, 0.5, seed)
    fit, val = probe_split(y[train], None if g is None else g[train], 0.25, seed)
    fit, val = train[fit], train[val]
    with threadpool_limits(1, user_api="blas"):
        scores = [_fit_score(c, x[fit], y[fit], x[val], y[val]) for c in C_GRID]
        best_c = C_GRID[int(np.argmax(scores))]  # first (smallest) C on ties: the most regularised
        acc = _fit_score(best_c, x[train], y[train], x[test], y[test])
    return {
        "acc": acc,
        "C": best_c,
        "val_acc": max(scores),
        "n_train": len(train),
        "n_test": len(test),
        "n_classes": len(np.unique(y)),
    }


def probe_split(
    y: np.ndarray, groups: np.ndarray | None, test_size: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held) index arrays: a class-stratified split with no group on both sides.

    Without groups (or all distinct) it is `train_test_split` (stratified when every class fits); with
    groups it is the first fold of a shuffled StratifiedGroupKFold with round(1 / test_size) folds
    (fewer when there are fewer groups than that).
    """
    index = np.arange(len(y))
    if groups is None or len(np.unique(groups)) == len(groups):
        stratify = y if _can_stratify(y, test_size) else None
        kept, held = train_test_split(index, test_size=test_size, stratify=stratify, random_state=seed)
        return np.asarray(kept), np.asarray(held)
    n_groups = len(np.unique(groups))
    if n_groups < 2:
        raise ValueError(f"a group-wise probe split needs >= 2 groups, got {n_groups}")
    n_folds = min(round(1 / test_size), n_groups)  # tiny sets: one group per fold
    folds = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    kept, held = next(folds.split(index, y, groups))
    return kept, held


def _can_stratify(y: np.ndarray, test_size: float) -> bool:
    """A stratified split needs >= 2 of each class and a held part with room for every class."""
    _, counts = np.unique(y, return_counts=True)
    return bool(counts.min() >= 2 and int(np.ceil(test_size * len(y))) >= len(counts))


@EVAL_TASKS.register("linear_probe")
def linear_probe_task(
    encoder: Encoder, dataset_dir: Path | None, out_dir: Path, config: EvalConfig
) -> TaskResult:
    """Probe accuracy on real digits, the held-out splits and the user's datasets (`<set>_acc`), or on
    the sets `eval.probe_sets` names (an unknown name is an error listing the valid ones)."""
    result = TaskResult()
    for name, load in probed_sets(zeroshot_sets(dataset_dir, config), config.probe_sets):
        with recording_errors(result, name):
            data = load()
            features = image_features(encoder, data.images, config.batch_size)
            probe = linear_probe(features, data.labels, data.groups)
            result.metrics.update({f"{name}_{key}": value for key, value in probe.items()})
    return result


def probed_sets(sets: list[tuple[str, Any]], names: list[str] | None) -> list[tuple[str, Any]]:
    """The (name, loader) pairs of `sets` that `names` selects, in `sets` order (None: all of them)."""
    if names is None:
        return sets
    known = [name for name, _ in sets]
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"eval.probe_sets: unknown set(s) {unknown}; choose from {known}")
    return [(name, load) for name, load in sets if name in names]
