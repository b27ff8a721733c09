"""Ranking metrics with one tie rule shared by every task.

Tie rule: equal scores are ordered uniformly at random, and we report the *expected* metric over that
random order. With real float features exact ties practically never happen, so the numbers equal
CLIP_benchmark's (torch.topk) and SugarCrepe's (strict `>`); with degenerate features (a constant
embedding) they give exactly chance instead of an arbitrary order's result.

hit@k for one query (scores s over candidates, a set of positives): let s* be the best positive score,
a = #candidates with s > s*, t = #candidates with s == s*, p = #positives among those t. The first
positive lands at a random position among the tied block, so with m = k - a slots left

    P(hit@k) = 0                          if m <= 0
             = 1 - C(t - p, m) / C(t, m)  otherwise (C(n, m) = 0 when m > n).

For one positive this is min(1, m / t); for a constant embedding over n candidates it is k / n.
"""

from __future__ import annotations

import numpy as np


def expected_hits_at_k(scores: np.ndarray, positives: np.ndarray, k: int) -> np.ndarray:
    """[Q] expected hit@k per query (see module docstring); `positives` is a [Q, C] bool mask.

    Every query must have at least one positive.
    """
    scores = np.asarray(scores, dtype=np.float64)
    positives = np.asarray(positives, dtype=bool)
    if scores.shape != positives.shape or scores.ndim != 2:
        raise ValueError(
            f"scores {scores.shape} and positives {positives.shape} must be the same [Q, C] shape"
        )
    if not positives.any(axis=1).all():
        raise ValueError("every query needs at least one positive candidate")
    best = np.where(positives, scores, -np.inf).max(axis=1, keepdims=True)
    above = (scores > best).sum(axis=1)
    tied = scores == best
    t = tied.sum(axis=1)
    p = (tied & positives).sum(axis=1)
    m = k - above
    # C(t-p, m) / C(t, m) = prod_{i<m} (t-p-i) / (t-i), zero as soon as a factor is zero
    miss = np.ones(len(scores))
    for i in range(max(int(m.max(initial=0)), 0)):
        active = i < m
        factor = np.clip(t - p - i, 0, None) / np.maximum(t - i, 1)
        miss = np.where(active, miss * factor, miss)
    return np.where(m <= 0, 0.0, 1.0 - miss)


def expected_top_k(logits: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """[N] expected top-k correctness of classification logits [N, C] against integer labels [N]."""
    labels = np.asarray(labels, dtype=np.int64)
    positives = np.zeros(np.shape(logits), dtype=bool)
    positives[np.arange(len(labels)), labels] = True
    return expected_hits_at_k(logits, positives, k)


def pairwise_wins(better: np.ndarray, worse: np.ndarray) -> np.ndarray:
    """1 where `better > worse`, 0.5 on an exact tie (the random tie rule), 0 otherwise."""
    better = np.asarray(better, dtype=np.float64)
    worse = np.asarray(worse, dtype=np.float64)
    return (better > worse).astype(np.float64) + 0.5 * (better == worse)
