"""Fixtures for the training tests: a tiny hand-made dataset and one finished tiny run."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_run import tiny_config, write_tiny_dataset


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """16 groups, one negative each, 2 images per caption from 2 generators, 16 px."""
    return write_tiny_dataset(tmp_path_factory.mktemp("tiny-dataset"))


@pytest.fixture(scope="session")
def tiny_dataset_no_negatives(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Like `tiny_dataset` without hard negatives."""
    return write_tiny_dataset(tmp_path_factory.mktemp("tiny-dataset-noneg"), negatives=0)


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory: pytest.TempPathFactory, tiny_dataset: Path) -> Path:
    """The train folder of an uninterrupted 4-step `tiny_config` run (checkpoints at steps 2 and 4)."""
    from synthmphn.train.loop import run_training

    return run_training(tiny_config(tmp_path_factory.mktemp("run-a"), tiny_dataset))
