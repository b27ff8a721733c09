"""images.engine=ray against a running Ray cluster (not a Ray the build starts itself): RAY_ADDRESS set,
token authentication on (RAY_AUTH_MODE=token, the default of `ray start --head` since Ray 2.59), a relative
output.dir. The shards land under the driver's working directory, byte-identical to the local engine's.

Ray reads RAY_AUTH_MODE when it is imported, so the cluster and the driver run in a fresh interpreter:
Ray's own test cluster (`ray.cluster_utils.Cluster`: a head node's GCS and raylet in their own processes,
stopped by `shutdown`) and then the build, as `synthmphn build` runs it. The by-hand form with
`ray start --head` is in the README's Interop section.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
]
DRIVER = """
import json, os, sys
from ray.cluster_utils import Cluster
import ray
from synthmphn.build import run_build
from synthmphn.config import load_config

cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2})
try:
    os.environ["RAY_ADDRESS"] = cluster.address
    run_build(load_config(None, json.loads(sys.argv[1])))
    print(json.dumps({"cluster": cluster.address, "joined": ray.get_runtime_context().gcs_address}))
finally:
    ray.shutdown()
    cluster.shutdown()
"""


def shard_bytes(dataset: Path) -> dict[str, bytes]:
    """Every shard file and the manifest of a dataset folder, by name."""
    return {p.name: p.read_bytes() for p in [*sorted(dataset.glob("*.tar")), dataset / "manifest.jsonl"]}


def test_a_build_on_a_running_token_auth_cluster_writes_where_the_driver_is(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    local = run_build(load_config(None, [*TINY, f"output.dir={tmp_path / 'local'}", "images.engine=local"]))
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "synthmphn-test-token-0123456789abcdef"}
    env.pop("RAY_ADDRESS", None)
    overrides = [*TINY, "output.dir=relative-run", "images.engine=ray"]
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, json.dumps(overrides)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    addresses = json.loads(done.stdout.strip().splitlines()[-1])
    assert (
        addresses["joined"] == addresses["cluster"]
    )  # joined the running cluster, started no Ray of its own
    got = shard_bytes(tmp_path / "relative-run" / "dataset")
    assert len(got) == 5 + 1 and got == shard_bytes(local)


class RefusingRay:
    """Stands in for `ray` where `init` fails the way Ray 2.60 fails against a token-auth cluster when the
    driver lacks RAY_AUTH_MODE=token (seen by hand: the InvalidAuthToken detail only reaches the log)."""

    def init(self, address: str) -> None:
        raise ConnectionError(f"Failed to connect to Ray cluster at {address}")


def test_a_failed_connection_without_token_mode_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from synthmphn.build.engines import join_ray_cluster

    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    with pytest.raises(
        RuntimeError, match=r"could not join the Ray cluster at 10\.0\.0\.1:6379 .*RAY_AUTH_MODE=token"
    ):
        join_ray_cluster(RefusingRay(), "10.0.0.1:6379")
    monkeypatch.setenv("RAY_AUTH_MODE", "token")  # the setting is there: Ray's own error, unchanged
    with pytest.raises(ConnectionError, match=r"^Failed to connect to Ray cluster at 10\.0\.0\.1:6379$"):
        join_ray_cluster(RefusingRay(), "10.0.0.1:6379")
