"""Build engines: one signature for all three, and which one a config gets."""

from __future__ import annotations

import inspect

import pytest

from synthmphn.build.engines import choose_engine, run_inline, run_processes, run_ray
from synthmphn.config import ImagesConfig


def test_engines_share_one_signature() -> None:
    signatures = {str(inspect.signature(engine)) for engine in (run_inline, run_processes, run_ray)}
    assert len(signatures) == 1


@pytest.mark.parametrize(
    ("workers", "engine", "n_tasks", "expected"),
    [
        (1, "local", 5, (run_inline, 1)),
        (4, "local", 5, (run_processes, 4)),
        (4, "local", 1, (run_inline, 1)),  # never more processes than shards
        (4, "local", 0, (run_inline, 0)),
        (3, "ray", 5, (run_ray, 3)),
        (3, "ray", 0, (run_inline, 0)),  # nothing to render: Ray is not started
    ],
)
def test_choose_engine(workers: int, engine: str, n_tasks: int, expected: tuple) -> None:
    assert choose_engine(ImagesConfig(workers=workers, engine=engine), n_tasks) == expected
