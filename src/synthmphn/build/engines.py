"""The build's distributors: run shard tasks in this process, in spawned processes, or as Ray tasks.

Every engine has one signature, `engine(tasks, workers, on_result, on_groups)`: it calls `on_result` once per
finished shard (in finishing order) and `on_groups(n_groups, n_images)` as groups are rendered; a shard's
bytes do not depend on which engine rendered it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from synthmphn.build.plan import ShardTask
from synthmphn.build.worker import ShardResult, render_shard
from synthmphn.config import ImagesConfig

OnResult = Callable[[ShardResult], None]
OnGroups = Callable[[int, int], None]
Engine = Callable[[Sequence[ShardTask], int, OnResult, OnGroups], None]


def run_inline(tasks: Sequence[ShardTask], workers: int, on_result: OnResult, on_groups: OnGroups) -> None:
    """Renders shards one after another in this process (progress per block of groups; `workers` unused)."""
    for task in tasks:
        on_result(render_shard(task, on_groups))


def run_processes(tasks: Sequence[ShardTask], workers: int, on_result: OnResult, on_groups: OnGroups) -> None:
    """Renders shards in `workers` spawned processes (safe with CUDA/OpenMP; plugins re-import there)."""
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        pending = {pool.submit(render_shard, task) for task in tasks}
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    result = future.result()
                    on_result(result)
                    on_groups(result.entry.n_groups, result.entry.n_images)
        except BaseException:
            for future in pending:
                future.cancel()
            raise


def run_ray(tasks: Sequence[ShardTask], workers: int, on_result: OnResult, on_groups: OnGroups) -> None:
    """Renders shards as Ray tasks (RAY_ADDRESS joins a cluster; the dataset folder must be shared storage).

    Shard paths are made absolute before the tasks leave this process: a cluster's workers run in
    another working directory, where a relative output.dir would name another folder. Without
    RAY_ADDRESS a local Ray starts with `workers` CPUs, or every core when images.workers is 1 (default).
    """
    import ray  # optional dependency (pip install -e '.[ray]'); checks.check_engine fails early without it

    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS")
        if address:
            join_ray_cluster(ray, address)
        else:
            ray.init(num_cpus=workers if workers > 1 else None)
    remote = ray.remote(num_cpus=1)(render_shard)
    pending = [remote.remote(task) for task in absolute_tasks(tasks)]
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        result = ray.get(done[0])
        on_result(result)
        on_groups(result.entry.n_groups, result.entry.n_images)


def absolute_tasks(tasks: Sequence[ShardTask]) -> list[ShardTask]:
    """The tasks with absolute shard paths (resolved against this process's working directory)."""
    return [replace(task, path=Path(task.path).resolve()) for task in tasks]


TOKEN_AUTH_HINT = (
    "clusters started with token authentication (the default of `ray start --head` since Ray 2.59) need "
    "RAY_AUTH_MODE=token in this environment too, with the cluster's token (RAY_AUTH_TOKEN, "
    "RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token; see Ray's token-auth docs)"
)


def join_ray_cluster(ray: Any, address: str) -> None:
    """`ray.init(address)`; a refused or failed connection says which setting Ray's token auth needs.

    A token-auth cluster refuses a driver without RAY_AUTH_MODE=token with only "Failed to connect to Ray
    cluster" (the InvalidAuthToken detail goes to Ray's log lines), so a failed connection without that
    setting names it too.
    """
    try:
        ray.init(address=address)
    except Exception as err:  # noqa: BLE001 - Ray's auth errors have no stable public class
        text, said = f"{type(err).__name__} {err}".lower(), f"{type(err).__name__}: {err}"
        if "auth" in text:
            what = f"Ray cluster {address} refused the connection ({said}); "
        elif "connect" in text and os.environ.get("RAY_AUTH_MODE", "").lower() != "token":
            what = f"could not join the Ray cluster at {address} ({said}); check RAY_ADDRESS, and note that "
        else:
            raise
        raise RuntimeError(what + TOKEN_AUTH_HINT) from err


def choose_engine(images: ImagesConfig, n_tasks: int) -> tuple[Engine, int]:
    """The engine and worker count for `n_tasks` pending shards: Ray when asked, processes when > 1 worker."""
    if images.engine == "ray" and n_tasks:
        return run_ray, images.workers
    workers = min(images.workers, n_tasks)
    return (run_processes, workers) if workers > 1 else (run_inline, workers)
