"""Fixtures for the interop tests (open_clip_train, CLIP_benchmark, eval targets)."""

from __future__ import annotations

from pathlib import Path

import pytest
from interop_data import write_dataset


@pytest.fixture(scope="session")
def interop_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The two-split dataset, 32 px: train 8 groups x (2 base + 2 negative images), heldout 6 x (1 + 1)."""
    return write_dataset(tmp_path_factory.mktemp("interop-dataset"))
