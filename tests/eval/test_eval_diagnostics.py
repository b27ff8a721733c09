"""Alignment, uniformity and modality gap by hand; the t-SNE plot is written."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from eval_fakes import ConceptEncoder, World, caption_encoder, constant_encoder

from synthmphn.config import EvalConfig
from synthmphn.eval.diagnostics import alignment, diagnostics_task, modality_gap, uniformity
from synthmphn.eval.plots import save_tsne


def test_formulas_by_hand() -> None:
    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    y = np.array([[0.0, 1.0], [0.0, 1.0]])
    assert alignment(x, y) == pytest.approx((2 + 0) / 2)
    assert uniformity(x) == pytest.approx(-4.0)  # one pair at squared distance 2: log exp(-2 * 2)
    assert modality_gap(x, y) == pytest.approx(math.hypot(0.5, -0.5))


def test_perfect_encoder(dataset: Path, world: World, tmp_path: Path) -> None:
    result = diagnostics_task(caption_encoder(world), dataset, tmp_path, EvalConfig(tsne_points=40))
    assert result.errors == []
    m = result.metrics
    assert m["alignment"] == pytest.approx(0.0) and m["modality_gap"] == pytest.approx(0.0)
    assert m["uniformity_text"] == pytest.approx(-4.0)  # 6 orthogonal captions
    # 12 images, 2 per caption: 6 of 66 pairs coincide (potential 1), the rest sit at squared distance 2
    assert m["uniformity_image"] == pytest.approx(math.log((6 + 60 * math.exp(-4)) / 66))
    assert result.plots["tsne_digits"].is_file()


def test_constant_and_orthogonal_constant(dataset: Path, tmp_path: Path) -> None:
    m = diagnostics_task(constant_encoder(), dataset, tmp_path, EvalConfig(tsne_points=40)).metrics
    assert (
        m["alignment"]
        == m["uniformity_image"]
        == m["uniformity_text"]
        == m["modality_gap"]
        == pytest.approx(0.0)
    )
    apart = ConceptEncoder(lambda image: "image", lambda text: "text")
    m = diagnostics_task(apart, dataset, tmp_path, EvalConfig(tsne_points=40)).metrics
    assert m["alignment"] == pytest.approx(2.0) and m["modality_gap"] == pytest.approx(math.sqrt(2))


def test_tsne_plot_of_real_features(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 20)
    features = np.eye(3)[labels] + 0.1 * rng.normal(size=(60, 3))
    path = save_tsne(features, labels, ["a", "b", "c"], tmp_path / "t.png", title="t")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
