"""Retrieval: perfect embedding gives R@k = 1, constant gives the hand-computed chance values."""

from __future__ import annotations

from math import comb
from pathlib import Path

import numpy as np
import pytest
from eval_fakes import World, caption_encoder, constant_encoder

from synthmphn.config import EvalConfig
from synthmphn.eval.retrieval import retrieval_metrics, retrieval_task


def test_perfect_encoder_recalls_everything(dataset: Path, world: World, tmp_path: Path) -> None:
    result = retrieval_task(caption_encoder(world), dataset, tmp_path, EvalConfig())
    assert result.errors == []
    for k in (1, 5, 10):
        assert result.metrics[f"i2t_r{k}"] == 1.0 and result.metrics[f"t2i_r{k}"] == 1.0
    assert result.metrics["n_images"] == 12 and result.metrics["n_texts"] == 6  # 6 captions x 2 generators
    assert result.metrics["heldout_style/i2t_r1"] == 1.0


def test_constant_encoder_is_chance(dataset: Path, tmp_path: Path) -> None:
    metrics = retrieval_task(constant_encoder(), dataset, tmp_path, EvalConfig()).metrics
    # i2t: 1 positive among 6 captions -> k/6; t2i: 2 positives among 12 images -> 1 - C(10,k)/C(12,k)
    assert metrics["i2t_r1"] == pytest.approx(1 / 6)
    assert metrics["i2t_r5"] == pytest.approx(5 / 6)
    assert metrics["i2t_r10"] == 1.0
    for k in (1, 5, 10):
        assert metrics[f"t2i_r{k}"] == pytest.approx(1 - comb(10, k) / comb(12, k))


def test_several_images_per_caption_any_positive_counts() -> None:
    # caption 0 has images 0 and 1; image 1 is the nearest to caption 0, image 0 is far
    texts = np.array([[1.0, 0.0], [0.0, 1.0]])
    images = np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    metrics = retrieval_metrics(images, texts, np.array([0, 0, 1]), ks=(1,))
    assert metrics["t2i_r1"] == pytest.approx((1.0 + 0.5) / 2)  # caption 1 ties image 0 and image 2
    assert metrics["i2t_r1"] == pytest.approx((0 + 1 + 1) / 3)


def test_missing_dataset_is_recorded(tmp_path: Path) -> None:
    result = retrieval_task(constant_encoder(), tmp_path / "nope", tmp_path, EvalConfig())
    assert result.metrics == {}
    assert len(result.errors) == 2 and "dataset folder not found" in result.errors[0]
