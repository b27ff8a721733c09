"""Purification, zero-shot accuracy, alignment, histograms and clusters on hand-built encoders."""

import math

import numpy as np
import pytest
import torch

from synthmphn.theory.data import aligned_pairs, make_dictionaries, sample_zero_shot_task
from synthmphn.theory.encoders import UnitNeuronEncoder
from synthmphn.theory.metrics import (
    PURITY_THRESHOLDS,
    clean_alignment,
    feature_silhouette,
    loading_histogram,
    purification,
    purified_at,
    zero_shot_accuracy,
)


def test_thresholds_sweep_020_to_100():
    assert PURITY_THRESHOLDS[0] == 0.2 and PURITY_THRESHOLDS[-1] == 1.0 and len(PURITY_THRESHOLDS) == 17


def test_purification_on_hand_built_rows():
    eye = torch.eye(6)  # the dictionary is the identity: |Ŵ M| = |Ŵ|
    s = 1 / math.sqrt(2)
    weight = torch.stack(
        [
            eye[0],  # pure feature 0
            s * eye[1] + s * eye[2],  # two features at 0.707: never purified
            2 * eye[0],  # feature 0 again (row is renormalised)
            0.9 * eye[3] + math.sqrt(1 - 0.81) * eye[4],  # feature 3 once the threshold passes 0.436
        ]
    )
    rows, features = purified_at((weight / weight.norm(dim=1, keepdim=True)) @ eye, 0.2)
    assert rows.tolist() == [0, 2] and features.tolist() == [0, 0]
    result = purification(weight, eye)
    assert result.features == 2  # features 0 and 3
    assert result.neurons == 3
    assert result.threshold == pytest.approx(0.45)
    # the authors' magnitude: Σ loadings of the 3 purified neurons / the 2 purified features
    assert result.magnitude == pytest.approx((1 + 1 + 0.9) / 2, abs=1e-6)
    assert purification(weight, eye, magnitude="neuron").magnitude == pytest.approx(
        (1 + 1 + 0.9) / 3, abs=1e-6
    )
    assert result.features_by_threshold[0] == 1 and result.features_by_threshold[-1] == 0
    with pytest.raises(ValueError, match="'feature' or 'neuron'"):
        purification(weight, eye, magnitude="row")  # type: ignore[arg-type]


def oracle_encoders(dicts, neurons):
    f, g = UnitNeuronEncoder(dicts.image.shape[0], neurons), UnitNeuronEncoder(dicts.image.shape[0], neurons)
    with torch.no_grad():
        f.weight.copy_(dicts.image.T), f.bias.zero_()
        g.weight.copy_(dicts.text.T), g.bias.zero_()
    return f, g


@pytest.fixture(scope="module")
def dicts():
    return make_dictionaries(200, 50, torch.Generator().manual_seed(0))


def test_oracle_encoders_are_pure_accurate_and_aligned(dicts):
    f, g = oracle_encoders(dicts, 50)
    gen = torch.Generator().manual_seed(1)
    assert purification(f.weight, dicts.image).features == 50
    assert zero_shot_accuracy(f, g, sample_zero_shot_task(dicts, 300, 0.1, gen, noise=0.02)) > 0.95
    alignment = clean_alignment(f, g, aligned_pairs(dicts, 200, 0.1, gen), dicts.image)
    assert alignment["matched"] > 0.95 and alignment["unmatched"] < 0.2


def test_random_encoders_are_near_chance(dicts):
    gen = torch.Generator().manual_seed(2)
    f, g = UnitNeuronEncoder(200, 80, gen), UnitNeuronEncoder(200, 80, gen)
    acc = zero_shot_accuracy(f, g, sample_zero_shot_task(dicts, 1000, 0.1, gen))
    assert acc < 0.45


def test_loading_histogram_counts_every_entry(dicts):
    f, _ = oracle_encoders(dicts, 50)
    counts = loading_histogram(f.weight, dicts.image, bins=10)
    assert sum(counts) == 50 * 50
    assert counts[-1] == 50 and counts[0] == 50 * 49  # the diagonal is 1, the rest ~0


def test_silhouette_separates_clusters():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 30)
    tight = np.eye(3)[labels] + 0.01 * rng.random((90, 3))
    assert feature_silhouette(tight, labels) > 0.9
    assert feature_silhouette(rng.random((90, 3)), labels) < 0.2
    assert feature_silhouette(tight, np.zeros(90, dtype=int)) == 0.0
