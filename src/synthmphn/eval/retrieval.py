"""Image<->text retrieval on held-out groups: R@1/5/10 in both directions (CLIP_benchmark convention).

Texts are the held-out base captions; images are every base image of those groups, so a caption has
several positive images (one per generator / seed; `heldout` is drawn by `splits.reference_pool`, the same
images for every variant of a grid). Recall@k is the share of queries with at least one
positive in the top k: for text->image any of the caption's images counts; for image->text the one
caption it was drawn from. Ties follow `eval.ranking` (expected value under a random order), so a
constant embedding gives chance: i2t R@k = k / n_captions, t2i R@k = 1 - C(N - m, k) / C(N, k) for N
images with m per caption.

Metrics: `i2t_r{k}`, `t2i_r{k}` on the `heldout` split, and the same prefixed `heldout_style/`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from synthmphn.config import EvalConfig
from synthmphn.eval.base import EVAL_TASKS, Encoder, TaskResult, prefixed, recording_errors
from synthmphn.eval.features import image_features, text_features
from synthmphn.eval.groups import HELDOUT, HELDOUT_STYLE, GroupSource, open_split, store_images
from synthmphn.eval.ranking import expected_hits_at_k

RECALL_AT = (1, 5, 10)


def retrieval_metrics(
    images: np.ndarray, texts: np.ndarray, image_caption: np.ndarray, ks: tuple[int, ...] = RECALL_AT
) -> dict[str, float]:
    """i2t/t2i recall@k from normalised features; `image_caption[i]` is the text row image i depicts."""
    image_caption = np.asarray(image_caption, dtype=np.int64)
    scores = images @ texts.T  # [N images, n texts]
    positives = np.zeros(scores.shape, dtype=bool)
    positives[np.arange(len(images)), image_caption] = True
    has_image = positives.any(axis=0)
    metrics: dict[str, float] = {}
    for k in ks:
        metrics[f"i2t_r{k}"] = float(expected_hits_at_k(scores, positives, k).mean())
        metrics[f"t2i_r{k}"] = float(
            expected_hits_at_k(scores.T[has_image], positives.T[has_image], k).mean()
        )
    metrics["n_images"] = len(images)
    metrics["n_texts"] = int(has_image.sum())
    return metrics


def evaluate_split(encoder: Encoder, source: GroupSource, batch_size: int = 256) -> dict[str, float]:
    """Retrieval metrics over the base captions and base images of one split."""
    refs, image_caption = [], []
    for gi, group in enumerate(source.groups):
        for record in group.images:
            refs.append((gi, record.key))
            image_caption.append(gi)
    if not refs:
        raise ValueError("the split has no base images")
    images = image_features(encoder, store_images(source, refs), batch_size)
    texts = text_features(encoder, [group.caption for group in source.groups])
    return retrieval_metrics(images, texts, np.array(image_caption))


@EVAL_TASKS.register("retrieval")
def retrieval_task(
    encoder: Encoder, dataset_dir: Path | None, out_dir: Path, config: EvalConfig
) -> TaskResult:
    """R@1/5/10 both ways on the held-out split (and the held-out style, prefixed)."""
    result = TaskResult()
    with recording_errors(result, HELDOUT):
        result.metrics.update(evaluate_split(encoder, open_split(dataset_dir, HELDOUT), config.batch_size))
    with recording_errors(result, HELDOUT_STYLE):
        metrics = evaluate_split(encoder, open_split(dataset_dir, HELDOUT_STYLE), config.batch_size)
        result.metrics.update(prefixed(HELDOUT_STYLE, metrics))
    return result
