"""GroupStore random access (also inside DataLoader workers) and the plain (image, caption) pair view."""

from __future__ import annotations

import io
import multiprocessing
import pickle
import random
import sys
from pathlib import Path

import pytest
import torch
import webdataset as wds
from PIL import Image

from synthmphn.data.manifest import Manifest, ShardEntry, shard_name
from synthmphn.data.pairs import export_pairs, iter_pairs, pair_key
from synthmphn.data.records import CaptionSpec, Group, ImageRecord, NegativeCaption
from synthmphn.data.shards import read_shard, write_shard
from synthmphn.data.store import GroupStore


def png_bytes(value: int, size: int = 8) -> bytes:
    """A tiny solid PNG whose colour encodes `value`."""
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), (value % 256, (value * 5) % 256, (value * 11) % 256)).save(buffer, "PNG")
    return buffer.getvalue()


def make_sample(group_id: str, number: int) -> tuple[Group, dict[str, bytes]]:
    """A group with 3 base images and 2 negatives of 3 images each."""
    spec = CaptionSpec(subject="square", category="shape", attributes={"size": "small"})
    base = [ImageRecord(key=f"base.{i}.png", generator=f"fake:{i}", seed=i) for i in range(3)]
    negatives = [
        NegativeCaption(
            text=f"a large square {group_id} {j}",
            kind="attribute:size",
            images=[ImageRecord(key=f"neg{j}.{i}.png", generator=f"fake:{i}", seed=i) for i in range(3)],
        )
        for j in range(2)
    ]
    group = Group(
        id=group_id, caption=f"a small square {group_id}", spec=spec, images=base, negatives=negatives
    )
    keys = [r.key for r in base] + [r.key for n in negatives for r in n.images]
    return group, {key: png_bytes(number * 17 + k) for k, key in enumerate(keys)}


def make_dataset(folder: Path, shards: dict[str, int], groups_per_shard: int = 4) -> Manifest:
    """A dataset folder with `shards[split]` shards per split, and its manifest."""
    manifest = Manifest(folder)
    number = 0
    for split, count in shards.items():
        for index in range(count):
            samples = []
            for _ in range(groups_per_shard):
                samples.append(make_sample(f"{split[0]}{number:07d}", number))
                number += 1
            path = folder / shard_name(split, index)
            sha = write_shard(path, samples)
            manifest.add(
                ShardEntry(
                    path=path.name,
                    split=split,
                    index=index,
                    n_groups=len(samples),
                    n_images=9 * len(samples),
                    sha256=sha,
                )
            )
    manifest.save()
    return manifest


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    make_dataset(tmp_path, {"train": 3, "heldout": 1})
    return tmp_path


def sequential(dataset: Path, split: str) -> list[tuple[Group, dict[str, bytes]]]:
    manifest = Manifest.load(dataset)
    return [s for e in manifest.entries(split) for s in read_shard(manifest.shard_path(e))]


def test_random_access_equals_sequential_read(dataset: Path) -> None:
    store = GroupStore(dataset)
    expected = sequential(dataset, "train")
    assert len(store) == len(expected) == 12
    assert store.groups == [g for g, _ in expected]
    pairs = [(i, key) for i, (_, images) in enumerate(expected) for key in images]
    random.Random(0).shuffle(pairs)
    for i, key in pairs:
        assert store.image_bytes(i, key) == expected[i][1][key]


def test_image_caption_images_and_splits(dataset: Path) -> None:
    store = GroupStore(dataset, split="heldout")
    assert len(store) == 4 and all(g.id.startswith("h") for g in store.groups)
    image = store.image(0, "neg1.2.png")
    assert image.mode == "RGB" and image.size == (8, 8)
    assert [r.key for r in store.caption_images(0)] == ["base.0.png", "base.1.png", "base.2.png"]
    assert [r.key for r in store.caption_images(0, neg=1)] == ["neg1.0.png", "neg1.1.png", "neg1.2.png"]
    assert store.caption(0, neg=0).startswith("a large square")
    with pytest.raises(IndexError, match="2 negative"):
        store.caption_images(0, neg=2)
    with pytest.raises(KeyError, match="no image 'base.9.png'"):
        store.image_bytes(0, "base.9.png")


def test_missing_manifest_or_split_names_the_dataset(tmp_path: Path, dataset: Path) -> None:
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "empty")):
        GroupStore(tmp_path / "empty")
    with pytest.raises(
        ValueError, match=rf"{dataset}: the manifest lists no shard for split 'heldout_style'"
    ):
        GroupStore(dataset, split="heldout_style")


def test_pickles_without_open_handles(dataset: Path) -> None:
    store = GroupStore(dataset)
    first = store.image_bytes(5, "base.1.png")  # opens a handle in this process
    clone = pickle.loads(pickle.dumps(store))
    assert clone.image_bytes(5, "base.1.png") == first
    store.close()
    assert store.image_bytes(5, "base.1.png") == first  # reopens after close


class _StoreImages(torch.utils.data.Dataset):
    """Every (group, key) of a store as raw bytes, as a training loader would read them."""

    def __init__(self, store: GroupStore) -> None:
        self.store = store
        self.items = [(i, r.key) for i in range(len(store)) for r in store.caption_images(i)]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, n: int) -> bytes:
        return self.store.image_bytes(*self.items[n])


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_forked_dataloader_workers_read_the_same_bytes(dataset: Path) -> None:
    """Workers forked after the parent opened handles must reopen their own (spawn is covered by pickling)."""
    store = GroupStore(dataset)
    store.image_bytes(0, "base.0.png")  # the parent holds open handles before the fork
    data = _StoreImages(store)
    loader = torch.utils.data.DataLoader(
        data, batch_size=5, num_workers=2, collate_fn=list, multiprocessing_context="fork"
    )
    got = [item for batch in loader for item in batch]
    assert got == [data[n] for n in range(len(data))]


def _child_reads(store: GroupStore, expected: bytes) -> None:
    last = len(store) - 1
    sys.exit(0 if store.image_bytes(last, "base.0.png") == expected else 1)


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_forked_child_does_not_move_the_parents_file_offset(dataset: Path) -> None:
    """A child reading through the parent's descriptor would move the parent's (shared) file offset."""
    store = GroupStore(dataset, split="heldout")  # one shard, so both read the same file
    store.image_bytes(0, "base.0.png")
    before = store._handles[0].tell()
    expected = sequential(dataset, "heldout")[-1][1]["base.0.png"]
    child = multiprocessing.get_context("fork").Process(target=_child_reads, args=(store, expected))
    child.start()
    child.join()
    assert child.exitcode == 0
    assert store._handles[0].tell() == before


def test_iter_pairs_base_and_negatives(dataset: Path) -> None:
    pairs = list(iter_pairs(dataset))
    assert len(pairs) == 12 * 3
    image, caption, record = pairs[4]
    assert image.mode == "RGB" and caption == "a small square t0000001" and record.key == "base.1.png"
    with_negatives = list(iter_pairs(dataset, include_negatives=True))
    assert len(with_negatives) == 12 * 9
    assert with_negatives[3][1] == "a large square t0000000 0" and with_negatives[3][2].key == "neg0.0.png"


def test_export_pairs_gives_open_clip_every_base_image(dataset: Path, tmp_path: Path) -> None:
    exported = export_pairs(dataset, tmp_path / "pairs", samples_per_shard=10)
    assert exported.n_samples == 36 and len(exported.shards) == 4
    assert exported.url.endswith("pairs-{000000..000003}.tar")
    read = list(
        wds.WebDataset(exported.url, shardshuffle=False).decode("pil").to_tuple("png", "txt", "__key__")
    )
    assert len(read) == 36
    expected = sequential(dataset, "train")
    image, text, key = read[4]
    assert key == pair_key("t0000001", "base.1.png") == "t0000001_base_1"
    assert text == expected[1][0].caption
    assert image.tobytes() == Image.open(io.BytesIO(expected[1][1]["base.1.png"])).convert("RGB").tobytes()
    again = export_pairs(dataset, tmp_path / "again", samples_per_shard=10)
    assert [p.read_bytes() for p in again.shards] == [p.read_bytes() for p in exported.shards]
