"""Zero-shot: CLIP_benchmark weight formula, perfect/constant encoders, per-class rows, bad datasets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from eval_fakes import SUBJECTS, World, constant_encoder, subject_encoder

from synthmphn.config import EvalConfig, UserDatasetConfig
from synthmphn.eval.groups import HELDOUT_STYLE, split_subject_images
from synthmphn.eval.zeroshot import (
    classification_metrics,
    classifier_weights,
    evaluate_zeroshot,
    zeroshot_task,
)


class LookupEncoder:
    """Texts embed as hand-set (not normalised) vectors."""

    def __init__(self, table: dict[str, list[float]]) -> None:
        self.table = table

    def encode_texts(self, texts: list[str]) -> torch.Tensor:
        return torch.tensor([self.table[t] for t in texts])

    def encode_images(self, images: list) -> torch.Tensor:  # pragma: no cover - unused
        raise NotImplementedError


def test_classifier_weights_normalise_each_template_then_the_mean() -> None:
    encoder = LookupEncoder({"a cat": [1, 0], "the cat": [0, 1], "a dog": [3, 0], "the dog": [0, 1]})
    weights = classifier_weights(encoder, ["cat", "dog"], ["a {c}", "the {c}"])
    h = 1 / np.sqrt(2)
    # dog: normalise (3,0) -> (1,0) first, so the mean is (.5,.5) -> (h,h); averaging raw vectors would tilt it
    assert weights == pytest.approx(np.array([[h, h], [h, h]]), abs=1e-6)
    encoder.table["the dog"] = [0, 0.5]
    encoder.table["a dog"] = [2, 0]
    assert classifier_weights(encoder, ["dog"], ["a {c}", "the {c}"]) == pytest.approx(
        np.array([[h, h]]), abs=1e-6
    )


def test_classification_metrics_by_hand() -> None:
    logits = np.array([[3, 2, 1, 0, -1], [0, 3, 2, 1, -1], [0, 1, 2, 3, 4], [5, 0, 0, 0, 0]], dtype=float)
    labels = np.array([0, 2, 0, 0])
    metrics, rows = classification_metrics(logits, labels, ["a", "b", "c", "d", "e"])
    assert metrics["acc1"] == pytest.approx(2 / 4)  # rows 0 and 3 right
    assert metrics["acc5"] == pytest.approx(1.0)
    # class a: 2 of 3 right; class c: 0 of 1 -> mean per-class recall (2/3 + 0) / 2
    assert metrics["mean_per_class_recall"] == pytest.approx(1 / 3)
    assert rows == [{"class": "a", "n": 3, "acc1": pytest.approx(2 / 3)}, {"class": "c", "n": 1, "acc1": 0.0}]


def test_perfect_encoder_scores_one_on_heldout_style(dataset: Path, world: World) -> None:
    data = split_subject_images(dataset, HELDOUT_STYLE)
    assert data.classnames == list(SUBJECTS)
    assert len(data.images) == 18  # 6 groups x (base + 2 negatives) x 1 image
    metrics, rows = evaluate_zeroshot(subject_encoder(world), data)
    assert metrics["acc1"] == 1.0 and metrics["mean_per_class_recall"] == 1.0
    assert "acc5" not in metrics  # fewer than 5 classes, as CLIP_benchmark
    assert [r["class"] for r in rows] == list(SUBJECTS) and all(r["acc1"] == 1.0 for r in rows)


def test_perfect_encoder_scores_one_on_heldout_captions(dataset: Path, world: World) -> None:
    data = split_subject_images(dataset, "heldout")
    assert data.name == "heldout" and data.classnames == list(SUBJECTS)
    metrics, _ = evaluate_zeroshot(subject_encoder(world), data)
    assert metrics["acc1"] == 1.0


def test_constant_encoder_is_chance(dataset: Path) -> None:
    metrics, _ = evaluate_zeroshot(constant_encoder(), split_subject_images(dataset, HELDOUT_STYLE))
    assert metrics["acc1"] == pytest.approx(1 / 3)
    assert metrics["mean_per_class_recall"] == pytest.approx(1 / 3)


def test_task_runs_digits_and_records_a_bad_user_dataset(dataset: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    config = EvalConfig(datasets=[UserDatasetConfig(name="mine", kind="imagefolder", path=empty)])
    result = zeroshot_task(constant_encoder(), dataset, tmp_path, config)
    assert result.metrics["digits/acc1"] == pytest.approx(0.1)
    assert result.metrics["digits/acc5"] == pytest.approx(0.5)
    assert result.metrics["digits/n_images"] == 1797
    assert result.metrics["heldout_style/acc1"] == pytest.approx(1 / 3)
    assert result.metrics["heldout/acc1"] == pytest.approx(1 / 3)
    assert len(result.tables["digits/per_class"]) == 10
    assert result.metrics["mnist/n_images"] == 5000 and result.metrics["mnist/acc1"] == pytest.approx(0.1)
    errors = [e for e in result.errors if not e.startswith("fashion_mnist:")]  # absent where not installed
    assert ("fashion_mnist/n_images" in result.metrics) == (len(errors) == len(result.errors))
    assert len(errors) == 1 and errors[0].startswith("mine:") and str(empty) in errors[0]
