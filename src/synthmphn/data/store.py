"""Random access to the groups and images of one split, without loading the images into memory.

At construction every shard of the split is checked against the manifest's sha256 (once per process,
`Manifest.check_shard`) and indexed once (member name -> byte offset and size) and the
group records are parsed; an image is then one seek + read. File handles are opened lazily and per
process, so a store built in the parent keeps working inside forked (or spawned) DataLoader workers.
"""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path
from typing import BinaryIO

from PIL import Image

from synthmphn.data.manifest import Manifest
from synthmphn.data.records import Group, ImageRecord
from synthmphn.data.shards import MemberSpan, ShardError, index_shard


class SplitNotInDataset(ValueError):
    """The dataset was built without this split (its manifest lists no shard for it): absent, not broken."""


class GroupStore:
    """The groups of one split of a dataset folder, with their images read on demand.

    >>> store = GroupStore("runs/quickstart/dataset")           # doctest: +SKIP
    >>> store.groups[0].caption, store.image(0, "base.0.png")  # doctest: +SKIP
    """

    def __init__(self, dataset_dir: str | os.PathLike[str], split: str = "train") -> None:
        self.dataset_dir = Path(dataset_dir)
        self.split = split
        manifest = _load_manifest(self.dataset_dir)
        entries = manifest.entries(split)
        if not entries:
            present = ", ".join(manifest.splits()) or "none"
            raise SplitNotInDataset(
                f"{self.dataset_dir}: the manifest lists no shard for split {split!r} (splits: {present})"
            )
        for entry in entries:
            manifest.check_shard(entry)  # a flipped byte must not train or score silently
        self.shard_paths: list[Path] = [manifest.shard_path(e) for e in entries]
        self.groups: list[Group] = []
        self._spans: list[tuple[int, dict[str, MemberSpan]]] = []
        for shard_number, path in enumerate(self.shard_paths):
            for sample in index_shard(path):
                self.groups.append(sample.group)
                self._spans.append((shard_number, sample.members))
        self._reset_handles()

    # ------------------------------------------------------------------ handles (per process)

    def _reset_handles(self) -> None:
        """Forgets inherited handles: a forked child must not share file offsets with its parent."""
        self._pid = os.getpid()
        self._handles: dict[int, BinaryIO] = {}
        self._lock = threading.Lock()

    def _handle(self, shard_number: int) -> BinaryIO:
        """This process's open handle on a shard (opened on first use); call with the lock held."""
        handle = self._handles.get(shard_number)
        if handle is None:
            handle = self._handles[shard_number] = open(self.shard_paths[shard_number], "rb")  # noqa: SIM115
        return handle

    def close(self) -> None:
        """Closes this process's open shard handles (they reopen on the next read)."""
        if self._pid == os.getpid():
            for handle in self._handles.values():
                handle.close()
        self._reset_handles()

    def __getstate__(self) -> dict[str, object]:
        """Pickles without handles or lock (spawned DataLoader workers reopen their own)."""
        state = self.__dict__.copy()
        for name in ("_handles", "_lock", "_pid"):
            state.pop(name)
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._reset_handles()

    # ------------------------------------------------------------------ access

    def __len__(self) -> int:
        return len(self.groups)

    def image_bytes(self, i: int, key: str) -> bytes:
        """The encoded bytes of image `key` (e.g. ``base.0.png``) of group `i`."""
        shard_number, spans = self._spans[i]
        span = spans.get(key)
        if span is None:
            raise KeyError(f"group {self.groups[i].id} has no image {key!r}; keys: {sorted(spans)}")
        if self._pid != os.getpid():  # first read in a forked worker: drop the parent's handles and lock
            self._reset_handles()
        with self._lock:
            handle = self._handle(shard_number)
            handle.seek(span.offset)
            data = handle.read(span.size)
        if len(data) != span.size:
            raise ShardError(
                f"{self.shard_paths[shard_number]}: member {self.groups[i].id}.{key} is truncated"
            )
        return data

    def image(self, i: int, key: str) -> Image.Image:
        """Image `key` of group `i`, decoded as RGB; a ShardError names the shard and member when it is corrupt."""
        data = self.image_bytes(i, key)
        try:
            with Image.open(io.BytesIO(data)) as img:
                return img.convert("RGB")
        except (OSError, ValueError, SyntaxError) as err:  # PIL's UnidentifiedImageError is an OSError
            shard = self.shard_paths[self._spans[i][0]]
            raise ShardError(
                f"{shard}: member {self.groups[i].id}.{key} is not a readable image ({err}); "
                "rebuild the dataset (`synthmphn build`)"
            ) from None

    def caption_images(self, i: int, neg: int = -1) -> list[ImageRecord]:
        """The image records of group `i`'s base caption (neg = -1) or of its negative number `neg`."""
        group = self.groups[i]
        if neg == -1:
            return list(group.images)
        if not 0 <= neg < len(group.negatives):
            raise IndexError(
                f"group {group.id} has {len(group.negatives)} negative(s); asked for negative {neg}"
            )
        return list(group.negatives[neg].images)

    def caption(self, i: int, neg: int = -1) -> str:
        """The text of group `i`'s base caption (neg = -1) or of its negative number `neg`."""
        group = self.groups[i]
        return group.caption if neg == -1 else group.negatives[neg].text


def _load_manifest(dataset_dir: Path) -> Manifest:
    """The manifest of a dataset folder; a missing one is an error naming the folder."""
    try:
        return Manifest.load(dataset_dir)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{dataset_dir}: no manifest.jsonl here; build the dataset first (`synthmphn build CONFIG`) "
            "or point train.data at a dataset folder"
        ) from None
