"""images.engine=ray: a 2-worker local Ray build writes the same bytes as the local engine, and relative
output folders are resolved before tasks leave the driver (a cluster's workers have another cwd)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from synthmphn.build import run_build
from synthmphn.config import load_config

TINY = [
    "captions.n_groups=12",
    "images.pool=[procedural:flat, procedural:pixel]",
    "images.per_caption=2",
    "images.size=16",
    "shards.groups_per_shard=4",
    "splits.heldout_groups=4",
    "splits.heldout_style_groups=4",
    "images.workers=2",
]


def shard_hashes(dataset: Path) -> dict[str, str]:
    """sha256 of every shard file (and the manifest) of a dataset folder."""
    files = [*sorted(dataset.glob("*.tar")), dataset / "manifest.jsonl"]
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


@pytest.fixture(scope="module")
def ray_session():
    ray = pytest.importorskip("ray")
    yield ray
    if ray.is_initialized():
        ray.shutdown()


def test_two_worker_ray_build_is_byte_identical_to_the_local_engine(
    ray_session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = run_build(load_config(None, [*TINY, f"output.dir={tmp_path / 'local'}", "images.engine=local"]))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    remote = run_build(load_config(None, [*TINY, "output.dir=relative-run", "images.engine=ray"]))
    assert (tmp_path / "relative-run" / "dataset" / "manifest.jsonl").is_file()
    hashes = shard_hashes(tmp_path / "relative-run" / "dataset")
    assert len(hashes) == 5 + 1 and hashes == shard_hashes(local)
    assert ray_session.is_initialized() and ray_session.cluster_resources().get("CPU", 0) >= 2
    assert remote == Path("relative-run") / "dataset"
