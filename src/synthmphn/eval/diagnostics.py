"""Embedding-space diagnostics: alignment and uniformity (Wang & Isola 2020), modality gap, t-SNE.

On held-out pairs (each base image x_i with its caption y_i; f, g the normalised image / text features):

    alignment         = E_i ||f(x_i) - g(y_i)||^2                       (alpha = 2; lower is better)
    uniformity(f)     = log E_{i<j} exp(-2 ||f(x_i) - f(x_j)||^2)        (t = 2; lower is more uniform)
    modality_gap      = ||mean_i f(x_i) - mean_i g(y_i)||                (Liang et al. 2022)

Uniformity is reported for the images (`uniformity_image`) and the distinct captions
(`uniformity_text`), on at most `MAX_UNIFORMITY_POINTS` rows (seeded subsample).
The t-SNE plot shows up to `eval.tsne_points` real-digit image features coloured by class.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.spatial.distance import pdist

from synthmphn.config import EvalConfig
from synthmphn.eval.base import EVAL_SEED, EVAL_TASKS, Encoder, TaskResult, recording_errors
from synthmphn.eval.datasets import LabelledImages, real_digits
from synthmphn.eval.features import image_features, text_features
from synthmphn.eval.groups import HELDOUT, GroupSource, open_split, store_images
from synthmphn.eval.plots import save_tsne

MAX_UNIFORMITY_POINTS = 2048


def alignment(x: np.ndarray, y: np.ndarray) -> float:
    """Mean squared distance between paired rows of x and y."""
    return float(((x - y) ** 2).sum(axis=1).mean())


def uniformity(
    x: np.ndarray, t: float = 2.0, max_points: int = MAX_UNIFORMITY_POINTS, seed: int = EVAL_SEED
) -> float:
    """log of the mean Gaussian potential exp(-t d^2) over distinct pairs of rows."""
    if len(x) < 2:
        raise ValueError("uniformity needs at least 2 points")
    if len(x) > max_points:
        x = x[np.random.default_rng(seed).choice(len(x), max_points, replace=False)]
    return float(np.log(np.exp(-t * pdist(x.astype(np.float64), "sqeuclidean")).mean()))


def modality_gap(x: np.ndarray, y: np.ndarray) -> float:
    """Distance between the centroids of the image and text features."""
    return float(np.linalg.norm(x.mean(axis=0) - y.mean(axis=0)))


def pair_diagnostics(images: np.ndarray, texts: np.ndarray, image_caption: np.ndarray) -> dict[str, float]:
    """Alignment, uniformity (image, text) and modality gap of images and the captions they depict."""
    paired = texts[np.asarray(image_caption)]
    return {
        "alignment": alignment(images, paired),
        "uniformity_image": uniformity(images),
        "uniformity_text": uniformity(texts),
        "modality_gap": modality_gap(images, paired),
    }


def heldout_pairs(
    encoder: Encoder, source: GroupSource, batch_size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features of the base images and captions of a split, with each image's caption row."""
    refs = [(gi, r.key) for gi, group in enumerate(source.groups) for r in group.images]
    image_caption = np.array([gi for gi, _ in refs])
    if not refs:
        raise ValueError("the split has no base images")
    images = image_features(encoder, store_images(source, refs), batch_size)
    texts = text_features(encoder, [group.caption for group in source.groups])
    return images, texts, image_caption


def tsne_plot(encoder: Encoder, data: LabelledImages, out: Path, points: int, batch_size: int) -> Path:
    """t-SNE of up to `points` image features (seeded subsample) coloured by class, saved as PNG."""
    rng = np.random.default_rng(EVAL_SEED)
    keep = np.sort(rng.choice(len(data.labels), min(points, len(data.labels)), replace=False))
    features = image_features(encoder, [data.images[int(i)] for i in keep], batch_size)
    return save_tsne(
        features, data.labels[keep], data.classnames, out, title=f"t-SNE of image features: {data.name}"
    )


@EVAL_TASKS.register("diagnostics")
def diagnostics_task(
    encoder: Encoder, dataset_dir: Path | None, out_dir: Path, config: EvalConfig
) -> TaskResult:
    """Alignment / uniformity / modality gap on held-out pairs; t-SNE of real digits."""
    result = TaskResult()
    with recording_errors(result, HELDOUT):
        result.metrics.update(
            pair_diagnostics(*heldout_pairs(encoder, open_split(dataset_dir, HELDOUT), config.batch_size))
        )
    with recording_errors(result, "t-SNE digits"):
        path = tsne_plot(
            encoder, real_digits(), out_dir / "tsne_digits.png", config.tsne_points, config.batch_size
        )
        result.plots["tsne_digits"] = path
    return result
