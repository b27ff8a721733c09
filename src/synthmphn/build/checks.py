"""Checks that fail a build in seconds, not after an hour of rendering, and the dataset folder's lock.

Generators exist, strategies fit the pool, the engine is installed, folders are writable, and an existing
dataset folder was built with the same config (its build identity, `config.stage_identity(cfg, "build")`).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from synthmphn.build.plan import BUILD_CONFIG_NAME, CAPTIONS_DIR, SPLIT_PREFIXES, BuildError, RenderPlan
from synthmphn.config import ImagesConfig, identity_differences
from synthmphn.images import GENERATORS, parse_generator_name, plan_images
from synthmphn.io import read_json


def check_generators(plans: dict[str, RenderPlan]) -> None:
    """Fails when a pool entry is malformed (BuildError) or names an unregistered kind (KeyError listing them)."""
    for plan in plans.values():
        for name in plan.pool:
            try:
                kind, _ = parse_generator_name(name)
            except ValueError as err:
                raise BuildError(str(err)) from None
            GENERATORS.get(kind)


def check_strategies(plans: dict[str, RenderPlan], seed: int) -> None:
    """Plans one probe group per split so a strategy that does not fit the pool fails before any work."""
    for split, plan in plans.items():
        slots = plan_images(
            f"{SPLIT_PREFIXES[split]}probe", list(plan.pool), plan.strategy, plan.per_caption, seed, "base"
        )
        if not slots:
            raise BuildError(f"images: strategy {plan.strategy!r} planned no image for a {split} caption")


def check_engine(images: ImagesConfig) -> None:
    """Fails early when `images.engine: ray` is asked for but Ray is not installed."""
    if images.engine == "ray" and importlib.util.find_spec("ray") is None:
        raise BuildError(
            "images.engine=ray needs Ray: pip install -e '.[ray]' in the synthmphn checkout "
            "(or set images.engine=local)"
        )


def check_writable(folder: Path, what: str) -> None:
    """Creates `folder` and writes a probe file in it; fails naming the folder when either is impossible."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except PermissionError as err:
        raise PermissionError(
            f"{folder}: the {what} is not writable ({err.strerror}); choose another output.dir"
        ) from None
    except OSError as err:
        raise OSError(
            f"{folder}: cannot create or write the {what} ({err.strerror}); choose another output.dir"
        ) from None


def check_existing_dataset(dataset_dir: Path, build_identity: dict[str, Any]) -> bool:
    """Refuses to add to a dataset folder built with a different config; True when there is one to resume."""
    path = dataset_dir / BUILD_CONFIG_NAME
    if not path.exists():
        if (dataset_dir / "manifest.jsonl").exists():
            raise BuildError(
                f"{dataset_dir}: holds shards but no {BUILD_CONFIG_NAME}, so they may come from another config; "
                "delete the folder or choose another output.dir"
            )
        return False
    differences = identity_differences(read_json(path), build_identity)
    if differences:
        raise BuildError(
            f"{dataset_dir}: holds a dataset built with a different config; differing fields:\n  "
            + "\n  ".join(differences)
            + "\nRerun with the original values, or choose another output.dir (or delete the folder) to rebuild."
        )
    return True


@contextlib.contextmanager
def build_lock(dataset_dir: Path) -> Iterator[None]:
    """Holds an exclusive lock on the dataset folder, waiting for another build of the same folder to finish."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - non-POSIX: no locking
        yield
        return
    with open(dataset_dir / ".build.lock", "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for another build of {dataset_dir} to finish...", file=sys.stderr)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def remove_stale_temp_files(dataset_dir: Path) -> None:
    """Deletes temp files a killed build left behind (atomic writes that never got renamed)."""
    for pattern in (".*.tar.*.tmp", ".manifest.jsonl.*.tmp", ".sizes.json.*.tmp", f"{CAPTIONS_DIR}/.*.tmp"):
        for path in dataset_dir.glob(pattern):
            path.unlink(missing_ok=True)
