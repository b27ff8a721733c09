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


def test_tasks_leave_the_driver_with_absolute_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from synthmphn.build.engines import absolute_tasks
    from synthmphn.build.plan import ShardTask
    from synthmphn.config import ImagesConfig

    monkeypatch.chdir(tmp_path)
    task = ShardTask("train", 0, Path("run/dataset/train-000000.tar"), [], None, 0, "grammar", ImagesConfig())  # type: ignore[arg-type]
    (moved,) = absolute_tasks([task])
    assert (
        moved.path == tmp_path / "run" / "dataset" / "train-000000.tar" and task.path.is_absolute() is False
    )


def test_a_token_auth_refusal_names_the_setting() -> None:
    from synthmphn.build.engines import join_ray_cluster

    class InvalidAuthToken(Exception):
        pass

    class FakeRay:
        def init(self, address: str) -> None:
            raise InvalidAuthToken("authentication token is missing")

    with pytest.raises(RuntimeError, match=r"Ray cluster ray://h:10001 refused .* RAY_AUTH_MODE=token"):
        join_ray_cluster(FakeRay(), "ray://h:10001")


def test_missing_ray_names_the_editable_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from synthmphn.build.checks import check_engine
    from synthmphn.config import ImagesConfig

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "ray" else real(name))
    with pytest.raises(Exception, match=r"pip install -e '\.\[ray\]'"):
        check_engine(ImagesConfig(engine="ray"))
