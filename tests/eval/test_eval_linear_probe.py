"""Linear probe: separable features give 1, constant features give the majority share of the test half."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from eval_fakes import World, constant_encoder, subject_encoder
from threadpoolctl import threadpool_info

import synthmphn.eval.linear_probe as linear_probe_module
from synthmphn.config import EvalConfig
from synthmphn.eval.linear_probe import C_GRID, linear_probe, linear_probe_task, probe_split

fit_score = linear_probe_module._fit_score


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


def test_every_fit_runs_on_one_blas_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []

    def recording_fit(*args: object) -> float:
        seen.extend(pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas")
        return fit_score(*args)

    monkeypatch.setattr(linear_probe_module, "_fit_score", recording_fit)
    labels = np.repeat(np.arange(2), 10)
    linear_probe(np.eye(2)[labels] + 0.1, labels)
    assert seen and set(seen) == {1}  # 5 validation fits + the refit, every BLAS library limited
    assert len(seen) % (len(C_GRID) + 1) == 0


def test_rare_classes_are_dropped_and_one_class_is_an_error() -> None:
    labels = np.array([0] * 8 + [1] * 8 + [2] * 3)
    assert linear_probe(np.eye(3)[labels], labels)["n_classes"] == 2
    with pytest.raises(ValueError, match=">= 2 classes"):
        linear_probe(np.ones((10, 2)), np.array([0] * 9 + [1]))


def _group_identity_features(n_groups: int = 200, per_group: int = 3) -> tuple[np.ndarray, ...]:
    """Features that identify a group (a random code per group, tiny jitter) and carry nothing else:
    each group's label is drawn at random, so only memorising groups can predict it."""
    rng = np.random.default_rng(1)
    groups = np.repeat(np.arange(n_groups), per_group)
    labels = rng.permutation(np.arange(n_groups) % 4)[groups]  # balanced: chance = 1/4
    codes = rng.normal(size=(n_groups, 256))  # more dims than groups: linearly memorisable
    return codes[groups] + 0.01 * rng.normal(size=(len(groups), 256)), labels, groups


def test_features_that_only_identify_a_group_score_chance() -> None:
    features, labels, groups = _group_identity_features()
    leaky = linear_probe(features, labels)  # image-level split: a test image's group is in train
    honest = linear_probe(features, labels, groups)
    assert leaky["acc"] > 0.75  # only images whose whole group fell in the test half are guesses
    assert honest["acc"] < 0.25 + 0.12  # chance is 1/4; 100 unseen test groups
    assert honest["n_train"] + honest["n_test"] == 600


def test_group_split_keeps_every_group_on_one_side_and_is_stratified() -> None:
    _, labels, groups = _group_identity_features()
    kept, held = probe_split(labels, groups, 0.5, seed=0)
    assert set(groups[kept]).isdisjoint(groups[held]) and len(kept) + len(held) == len(labels)
    assert abs(len(held) - 300) <= 30 and set(labels[held]) == set(labels)
    fit, val = probe_split(labels[kept], groups[kept], 0.25, seed=0)
    assert set(groups[kept][fit]).isdisjoint(groups[kept][val]) and abs(len(val) - len(kept) / 4) <= 15
    with pytest.raises(ValueError, match=">= 2 groups"):
        probe_split(np.array([0, 1, 0, 1]), np.array([0, 0, 0, 0]), 0.5, seed=0)


def test_distinct_groups_are_the_plain_image_split() -> None:
    features, labels, _ = _group_identity_features()
    assert linear_probe(features, labels, np.arange(len(labels))) == linear_probe(features, labels)


def test_task_on_digits_and_heldout_style(dataset: Path, world: World, tmp_path: Path) -> None:
    result = linear_probe_task(subject_encoder(world), dataset, tmp_path, EvalConfig())
    assert result.errors == []
    assert result.metrics["heldout_style_acc"] == 1.0  # one-hot subject features
    assert result.metrics["digits_n_test"] == 899
    assert result.metrics["digits_acc"] == pytest.approx(0.1, abs=0.02)  # zero features: one class


def test_task_constant_encoder(dataset: Path, tmp_path: Path) -> None:
    result = linear_probe_task(constant_encoder(), dataset, tmp_path, EvalConfig())
    assert result.metrics["heldout_style_acc"] == pytest.approx(3 / 9)  # 3 balanced classes


def test_probe_sets_limits_the_probe_to_the_named_sets(dataset: Path, world: World, tmp_path: Path) -> None:
    config = EvalConfig(probe_sets=["heldout_style"])
    result = linear_probe_task(subject_encoder(world), dataset, tmp_path, config)
    assert result.metrics["heldout_style_acc"] == 1.0
    assert not any(key.startswith(("digits_", "heldout_acc", "mnist_")) for key in result.metrics)


def test_an_unknown_probe_set_is_an_error_naming_the_valid_ones(dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(
        ValueError, match=r"eval.probe_sets: unknown set\(s\) \['cifar'\]; choose from .*digits"
    ):
        linear_probe_task(constant_encoder(), dataset, tmp_path, EvalConfig(probe_sets=["cifar"]))
