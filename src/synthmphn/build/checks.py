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

from synthmphn.build.cleanup import has_shards
from synthmphn.build.plan import BUILD_CONFIG_NAME, CAPTIONS_DIR, SPLIT_PREFIXES, BuildError, RenderPlan
from synthmphn.config import ImagesConfig, identity_differences
from synthmphn.images import GENERATORS, parse_generator_name, plan_images
from synthmphn.io import folder_lock, read_json
from synthmphn.io import remove_stale_temp_files as io_remove_stale

BUILD_LOCK = ".build.lock"


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
    """Refuses to add shards to a dataset folder holding shards of a different config; True when there is
    a dataset to resume. A folder with metadata but no shard is reused whatever config wrote it."""
    path = dataset_dir / BUILD_CONFIG_NAME
    if not path.exists():
        if (dataset_dir / "manifest.jsonl").exists() or has_shards(dataset_dir):
            raise BuildError(
                f"{dataset_dir}: holds shards but no {BUILD_CONFIG_NAME}, so they may come from another config; "
                "delete the folder or choose another output.dir"
            )
        return False
    differences = identity_differences(read_json(path), build_identity)
    if differences and not has_shards(dataset_dir):
        # metadata without a shard (an older version left it after a failed build): nothing to keep
        print(f"note: {dataset_dir} holds no shard yet; building it with this config", file=sys.stderr)
        return False
    if differences:
        raise BuildError(
            f"{dataset_dir}: holds a dataset built with a different config; differing fields:\n  "
            + "\n  ".join(differences)
            + "\nRerun with the original values, or choose another output.dir (or delete the folder) to rebuild."
        )
    return True


@contextlib.contextmanager
def build_lock(dataset_dir: Path) -> Iterator[None]:
    """Holds `<dataset_dir>/.build.lock`, waiting for another build of the same folder to finish."""
    with folder_lock(dataset_dir, BUILD_LOCK, "build"):
        yield


def remove_stale_temp_files(dataset_dir: Path) -> None:
    """Deletes temp files a killed build left behind (atomic writes that never got renamed)."""
    for pattern in (".*.tar.*.tmp", ".manifest.jsonl.*.tmp", ".sizes.json.*.tmp", f"{CAPTIONS_DIR}/.*.tmp"):
        io_remove_stale(dataset_dir, pattern)
