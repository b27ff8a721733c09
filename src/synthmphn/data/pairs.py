"""A plain (image, caption) view of a dataset, and an export to open_clip-ready pair shards.

Our group shards already carry ``{id}.png`` + ``{id}.txt`` (the FIRST base image), so open_clip's
``--train-data`` reads them as they are, but sees one image per caption and decodes every PNG of the
group to get it. `export_pairs` writes one sample per base image (and per negative image, paired with the
negative caption it was rendered from) so open_clip sees every image, plus the `sizes.json` its trainer
reads to size an epoch (`synthmphn export` is the command):

    synthmphn export runs/quickstart --out runs/quickstart/export
    python -m open_clip_train.main --train-data 'runs/quickstart/export/pairs/pairs-{000000..000003}.tar' ...
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from synthmphn.data.manifest import Manifest
from synthmphn.data.records import Group, ImageRecord
from synthmphn.data.shards import read_shard, write_tar
from synthmphn.io import atomic_write_json

EXPORT_INFO_NAME = "pairs.json"
SIZES_NAME = "sizes.json"  # open_clip_train's per-shard sample counts (same name as the dataset's)


@dataclass
class PairsExport:
    """What `export_pairs` wrote: the brace URL for open_clip's --train-data, sample count and shards."""

    url: str
    n_samples: int
    shards: list[Path] = field(default_factory=list)


def iter_groups(
    dataset_dir: str | os.PathLike[str], split: str = "train"
) -> Iterator[tuple[Group, dict[str, bytes]]]:
    """Every (group, {image key: bytes}) of a split, shard by shard in manifest order."""
    manifest = Manifest.load(dataset_dir)
    entries = manifest.entries(split)
    if not entries:
        raise ValueError(f"{dataset_dir}: the manifest lists no shard for split {split!r}")
    for entry in entries:
        yield from read_shard(manifest.shard_path(entry))


def _captioned_records(group: Group, include_negatives: bool) -> Iterator[tuple[str, ImageRecord]]:
    """(caption text, image record) for every base image, then every negative image if asked."""
    for record in group.images:
        yield group.caption, record
    if include_negatives:
        for negative in group.negatives:
            for record in negative.images:
                yield negative.text, record


def iter_pairs(
    dataset_dir: str | os.PathLike[str], split: str = "train", include_negatives: bool = False
) -> Iterator[tuple[Image.Image, str, ImageRecord]]:
    """Yields (RGB image, caption, record) for every base image of a split (and negative images if asked).

    A negative image is paired with its negative caption, which is the caption it was rendered from.
    """
    for group, images in iter_groups(dataset_dir, split):
        for caption, record in _captioned_records(group, include_negatives):
            with Image.open(io.BytesIO(images[record.key])) as img:
                yield img.convert("RGB"), caption, record


def pair_key(group_id: str, image_key: str) -> str:
    """The WebDataset key of one exported pair: `g0000001_base_0` for image `base.0.png` of `g0000001`."""
    stem = image_key.rsplit(".", 1)[0]
    return f"{group_id}_{stem.replace('.', '_')}"


def _pair_members(
    group: Group, images: dict[str, bytes], include_negatives: bool
) -> Iterator[list[tuple[str, bytes]]]:
    """The sorted members (image, json, txt) of each exported pair sample of one group."""
    for caption, record in _captioned_records(group, include_negatives):
        key = pair_key(group.id, record.key)
        extension = record.key.rsplit(".", 1)[-1]
        meta = {"group": group.id, "image": record.key, "generator": record.generator, "seed": record.seed}
        yield sorted(
            [
                (f"{key}.{extension}", images[record.key]),
                (f"{key}.json", json.dumps(meta, sort_keys=True).encode("utf-8")),
                (f"{key}.txt", caption.encode("utf-8")),
            ]
        )


def export_pairs(
    dataset_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    split: str = "train",
    include_negatives: bool = False,
    samples_per_shard: int = 1000,
) -> PairsExport:
    """Writes one WebDataset sample per image (`{key}.png` + `{key}.txt` + `{key}.json`) as `pairs-NNNNNN.tar`.

    Returns the brace URL and sample count to pass as open_clip's `--train-data` (its trainer reads the
    count from `out_dir/sizes.json`); both are also saved in `out_dir/pairs.json`. Output bytes are
    deterministic like the group shards.
    """
    if samples_per_shard < 1:
        raise ValueError(f"samples_per_shard must be >= 1, got {samples_per_shard}")
    out = Path(out_dir)
    shards: list[Path] = []
    sizes: dict[str, int] = {}
    pending: list[list[tuple[str, bytes]]] = []
    n_samples = 0

    def flush() -> None:
        path = out / f"pairs-{len(shards):06d}.tar"
        write_tar(path, [member for sample in pending for member in sample])
        shards.append(path)
        sizes[path.name] = len(pending)
        pending.clear()

    for group, images in iter_groups(dataset_dir, split):
        for members in _pair_members(group, images, include_negatives):
            pending.append(members)
            n_samples += 1
            if len(pending) == samples_per_shard:
                flush()
    if pending:
        flush()
    last = max(len(shards) - 1, 0)
    result = PairsExport(
        url=str(out / f"pairs-{{000000..{last:06d}}}.tar"), n_samples=n_samples, shards=shards
    )
    info = {"url": result.url, "n_samples": n_samples, "split": split, "include_negatives": include_negatives}
    atomic_write_json(out / EXPORT_INFO_NAME, info)
    atomic_write_json(out / SIZES_NAME, sizes)
    return result
