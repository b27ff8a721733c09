"""Shared test settings: quiet progress bars, few threads (CI has 2 cores)."""

import os

os.environ.setdefault("SYNTHMPHN_QUIET", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest

TINY_GRID_BASE = """
captions: {n_groups: 24, negatives_per_caption: 1}
images: {pool: [procedural:flat, procedural:pixel], strategy: msm-all, per_caption: 2, size: 32, workers: 1}
shards: {groups_per_shard: 12}
splits: {heldout_groups: 8, heldout_style_groups: 8}
train: {steps: 3, batch_size: 8, warmup_steps: 1, checkpoint_every: 2, workers: 0, threads: 1,
        images_per_caption: 2, augment: false}
eval: {tasks: [retrieval, compositional]}
"""


@pytest.fixture
def tiny_grid_base() -> str:
    """A base run config for experiment-grid tests: 24 groups, 2 styles, 32 px, 3 training steps."""
    return TINY_GRID_BASE
