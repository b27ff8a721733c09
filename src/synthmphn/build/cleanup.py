"""A build that fails before its first shard leaves the folders as it found them.

Everything a build writes before rendering (build_config.json, the caption cache, classes.json, provenance,
the lock file, the run's config.yaml) is only useful next to shards. When the build stops with an error
before any shard exists (a refused generator, a caption backend that yields nothing, a crash), the files
and folders it created are removed again, so a corrected rerun starts on the folder the user had. Files
that existed before are kept. Ctrl-C (KeyboardInterrupt) is not undone: a stopped build resumes.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

from synthmphn.data.manifest import Manifest, ManifestError

RUN_CONFIG_NAME = "config.yaml"  # the run's resolved config, written into output.dir


def has_shards(dataset_dir: Path) -> bool:
    """True when the folder holds a shard file or a manifest that lists one (an unreadable manifest counts)."""
    if any(dataset_dir.glob("*.tar")):
        return True
    try:
        return len(Manifest.load(dataset_dir, missing_ok=True)) > 0
    except (ManifestError, OSError):
        return True


def _missing_chain(folder: Path) -> list[Path]:
    """`folder` and its ancestors that do not exist yet, deepest first."""
    chain = []
    while not folder.exists() and folder != folder.parent:
        chain.append(folder)
        folder = folder.parent
    return chain


@contextlib.contextmanager
def undone_unless_a_shard_exists(dataset_dir: Path, output_dir: Path) -> Iterator[None]:
    """Removes what the block created in `dataset_dir` (and output_dir/config.yaml, new folders) when it
    raises an Exception while `dataset_dir` still holds no shard."""
    created_folders = _missing_chain(dataset_dir) + _missing_chain(output_dir)
    existed = set(dataset_dir.rglob("*")) if dataset_dir.is_dir() else set()
    run_config = output_dir / RUN_CONFIG_NAME
    run_config_existed = run_config.exists()
    try:
        yield
    except Exception:
        if dataset_dir.is_dir() and not has_shards(dataset_dir):
            for path in sorted(set(dataset_dir.rglob("*")) - existed, reverse=True):  # children first
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
            if not run_config_existed:
                run_config.unlink(missing_ok=True)
            for folder in sorted(created_folders, key=lambda p: len(p.parts), reverse=True):
                with contextlib.suppress(OSError):  # kept when something else is in it
                    folder.rmdir()
        raise
