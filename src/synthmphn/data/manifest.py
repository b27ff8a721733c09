"""The dataset manifest: `manifest.jsonl`, one line per shard (path, split, index, n_groups, n_images, sha256).

The manifest is the dataset's table of contents: readers find shards through it (and check each shard's
sha256 once per process before reading it, `Manifest.check_shard`), and `build` resumes by skipping shards
it lists whose file still has the listed sha256. It is rewritten atomically after each
shard, with lines in a fixed order (split, then index), so a finished build's manifest is deterministic.

Next to it, `sizes.json` maps each shard's file name to its sample count (one sample per group), the file
open_clip's trainer reads to size an epoch, so `--train-data 'dataset/train-{000000..000003}.tar'` needs
no `--train-num-samples`. It is rewritten with the manifest, from the manifest.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from synthmphn.data.shards import damaged_member, file_sha256
from synthmphn.io import atomic_write_json, atomic_write_text

MANIFEST_NAME = "manifest.jsonl"
SIZES_NAME = "sizes.json"
SPLITS = ("train", "heldout", "heldout_style")
SHARED = "shared"
"""Scope of an eval set drawn the same way for every variant of a grid (real sets, the held-out style, held-out
captions drawn by `splits.reference_pool`): numbers on it compare variants on identical data."""
IN_DOMAIN = "in-domain"
"""Scope of an eval set drawn by the run's own training pool (`splits.reference_pool: null`): per variant."""


_VERIFIED: set[tuple[str, int, int, str]] = set()
"""(resolved path, size, mtime_ns, sha256) of shards this process has already hashed and found intact."""


class ManifestError(ValueError):
    """The manifest is unreadable, or a shard it lists is missing or altered; the message names the file."""


class ShardEntry(BaseModel):
    """One shard of a dataset; `path` is relative to the dataset folder (so folders can move)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    split: str
    index: int = Field(ge=0)
    n_groups: int = Field(ge=0)
    n_images: int = Field(ge=0)
    sha256: str


def shard_name(split: str, index: int) -> str:
    """The file name of shard `index` of `split`: `{split}-{index:06d}.tar`."""
    return f"{split}-{index:06d}.tar"


def _split_order(split: str) -> tuple[int, str]:
    """Sort key that lists the known splits first, in pipeline order, then any others by name."""
    return (SPLITS.index(split), "") if split in SPLITS else (len(SPLITS), split)


class Manifest:
    """The shards of one dataset folder, loaded from and saved to `<dataset_dir>/manifest.jsonl`."""

    def __init__(self, dataset_dir: str | os.PathLike[str], entries: list[ShardEntry] | None = None) -> None:
        self.dataset_dir = Path(dataset_dir)
        self._entries: dict[tuple[str, int], ShardEntry] = {}
        for entry in entries or []:
            self.add(entry)

    @property
    def path(self) -> Path:
        """The manifest file."""
        return self.dataset_dir / MANIFEST_NAME

    @classmethod
    def load(cls, dataset_dir: str | os.PathLike[str], missing_ok: bool = False) -> Manifest:
        """Reads `<dataset_dir>/manifest.jsonl`.

        A missing file is a FileNotFoundError naming it (or an empty manifest when `missing_ok`);
        a malformed line is a ManifestError naming the file and line.
        """
        manifest = cls(dataset_dir)
        try:
            text = manifest.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            if missing_ok:
                return manifest
            raise FileNotFoundError(
                f"{manifest.path}: no manifest; is {manifest.dataset_dir} a dataset folder made by `synthmphn build`?"
            ) from None
        except (OSError, UnicodeDecodeError) as err:
            raise ManifestError(f"{manifest.path}: cannot read manifest ({err})") from None
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                manifest.add(_parse_line(manifest.path, number, line))
        return manifest

    def save(self) -> None:
        """Writes the manifest atomically, one JSON line per shard, ordered by split then index.

        Also writes `sizes.json` ({shard file name: n_groups}), open_clip's per-shard sample counts.
        """
        lines = [entry.model_dump_json() + "\n" for entry in self.entries()]
        atomic_write_text(self.path, "".join(lines))
        atomic_write_json(self.dataset_dir / SIZES_NAME, self.sizes())

    def sizes(self) -> dict[str, int]:
        """{shard file name: samples in it}: open_clip counts a group shard's samples as its groups."""
        return {Path(entry.path).name: entry.n_groups for entry in self.entries()}

    def add(self, entry: ShardEntry) -> None:
        """Adds a shard, replacing any entry for the same (split, index)."""
        self._entries[(entry.split, entry.index)] = entry

    def get(self, split: str, index: int) -> ShardEntry | None:
        """The entry of shard `index` of `split`, or None."""
        return self._entries.get((split, index))

    def entries(self, split: str | None = None) -> list[ShardEntry]:
        """Every entry (or those of `split`), ordered by split then index."""
        chosen = [e for e in self._entries.values() if split is None or e.split == split]
        return sorted(chosen, key=lambda e: (_split_order(e.split), e.index))

    def splits(self) -> list[str]:
        """The splits that have at least one shard, in pipeline order."""
        return sorted({e.split for e in self._entries.values()}, key=_split_order)

    def shard_path(self, entry: ShardEntry) -> Path:
        """The absolute location of a listed shard."""
        return self.dataset_dir / entry.path

    def problem(self, entry: ShardEntry) -> str | None:
        """Why a listed shard cannot be trusted (missing file, sha256 differs), or None when it matches."""
        path = self.shard_path(entry)
        if not path.is_file():
            return f"{path}: listed in {self.path} but missing"
        actual = file_sha256(path)
        if actual != entry.sha256:
            return f"{path}: sha256 {actual[:12]}... differs from the manifest's {entry.sha256[:12]}..."
        return None

    def check_shard(self, entry: ShardEntry) -> None:
        """Raises ManifestError naming the shard unless its file has the listed sha256.

        Hashes each shard once per process: a file with the same size and mtime is not hashed again.
        """
        path = self.shard_path(entry)
        try:
            stat = path.stat()
        except OSError:
            stat = None
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, entry.sha256) if stat else None
        if key is not None and key in _VERIFIED:
            return
        problem = self.problem(entry)
        if problem is not None:
            damage = damaged_member(path) if stat is not None else None
            raise ManifestError(
                f"{problem}{f' ({damage})' if damage else ''}: the shard is corrupt or was changed after "
                "the build; rebuild the dataset (`synthmphn build`) or restore the file"
            )
        if key is not None:
            _VERIFIED.add(key)

    def verify(self, split: str | None = None) -> int:
        """Recomputes every listed shard's sha256 (or those of `split`); returns how many were checked.

        Raises ManifestError listing every missing or altered shard.
        """
        entries = self.entries(split)
        problems = [p for p in (self.problem(e) for e in entries) if p is not None]
        if problems:
            raise ManifestError(
                f"{self.path}: {len(problems)} shard(s) failed verification:\n" + "\n".join(problems)
            )
        return len(entries)

    def __len__(self) -> int:
        return len(self._entries)


def _parse_line(path: Path, number: int, line: str) -> ShardEntry:
    """One manifest line as a ShardEntry, or a ManifestError naming the file and line."""
    try:
        return ShardEntry.model_validate(json.loads(line))
    except (json.JSONDecodeError, ValidationError) as err:
        reason = err.errors()[0]["msg"] if isinstance(err, ValidationError) else str(err)
        raise ManifestError(f"{path}: line {number} is not a valid shard entry ({reason})") from None
