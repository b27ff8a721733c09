"""Linear probe: separable features give 1, constant features give the majority share of the test half."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from eval_fakes import World, constant_encoder, subject_encoder

from synthmphn.config import EvalConfig
from synthmphn.eval.linear_probe import C_GRID, linear_probe, linear_probe_task


def test_separable_features_are_probed_perfectly() -> None:
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 12)
    features = np.eye(3)[labels] + 0.01 * rng.normal(size=(36, 3))
    probe = linear_probe(features, labels)
    assert probe["acc"] == 1.0 and probe["C"] in C_GRID
    assert probe["n_train"] == probe["n_test"] == 18 and probe["n_classes"] == 3


def test_constant_features_predict_the_majority_class() -> None:
    labels = np.array([0] * 30 + [1] * 10)
    probe = linear_probe(np.ones((40, 4)), labels)
    assert probe["acc"] == pytest.approx(0.75)  # stratified test half: 15 of class 0, 5 of class 1


def test_rare_classes_are_dropped_and_one_class_is_an_error() -> None:
    labels = np.array([0] * 8 + [1] * 8 + [2] * 3)
    assert linear_probe(np.eye(3)[labels], labels)["n_classes"] == 2
    with pytest.raises(ValueError, match=">= 2 classes"):
        linear_probe(np.ones((10, 2)), np.array([0] * 9 + [1]))


def test_task_on_digits_and_heldout_style(dataset: Path, world: World, tmp_path: Path) -> None:
    result = linear_probe_task(subject_encoder(world), dataset, tmp_path, EvalConfig())
    assert result.errors == []
    assert result.metrics["heldout_style_acc"] == 1.0  # one-hot subject features
    assert result.metrics["digits_n_test"] == 899
    assert result.metrics["digits_acc"] == pytest.approx(0.1, abs=0.02)  # zero features: one class


def test_task_constant_encoder(dataset: Path, tmp_path: Path) -> None:
    result = linear_probe_task(constant_encoder(), dataset, tmp_path, EvalConfig())
    assert result.metrics["heldout_style_acc"] == pytest.approx(3 / 9)  # 3 balanced classes
