"""Fixtures for eval tests: a tiny on-disk dataset with known contents and its `World` of image ids."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from eval_fakes import World, make_dataset  # noqa: E402


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def dataset(tmp_path: Path, world: World) -> Path:
    folder = tmp_path / "dataset"
    folder.mkdir()
    return make_dataset(folder, world)
