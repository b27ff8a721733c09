"""Fixtures for the fault catalogue (issue 14): a tiny dataset and a finished tiny run."""

from __future__ import annotations

import shutil
from pathlib import Path

import faults  # noqa: F401 - puts tests/train (tiny_run) on the path
import pytest
from tiny_run import tiny_config, write_tiny_dataset


@pytest.fixture(scope="session")
def pristine_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """16 groups with one hard negative each, 2 images per caption, 16 px (never modified: copy it)."""
    return write_tiny_dataset(tmp_path_factory.mktemp("reliab-dataset"))


@pytest.fixture
def dataset(pristine_dataset: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny dataset that a test may corrupt."""
    return Path(shutil.copytree(pristine_dataset, tmp_path / "dataset"))


@pytest.fixture
def finished_run(pristine_dataset: Path, tmp_path: Path) -> Path:
    """The run folder (output.dir) of a finished 4-step tiny run with checkpoints at steps 2 and 4."""
    from synthmphn.train.loop import run_training

    run_training(tiny_config(tmp_path / "run", pristine_dataset))
    return tmp_path / "run"
