"""Dataset manifest: JSONL round trip in a fixed order, sha256 verification, errors that name the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthmphn.data.manifest import Manifest, ManifestError, ShardEntry, shard_name
from synthmphn.data.shards import file_sha256


def write_fake_shard(folder: Path, split: str, index: int, content: bytes) -> ShardEntry:
    """A file standing in for a shard, and its manifest entry."""
    name = shard_name(split, index)
    (folder / name).write_bytes(content)
    return ShardEntry(
        path=name, split=split, index=index, n_groups=3, n_images=9, sha256=file_sha256(folder / name)
    )


def test_shard_name() -> None:
    assert shard_name("heldout_style", 12) == "heldout_style-000012.tar"


def test_save_load_round_trip_in_split_then_index_order(tmp_path: Path) -> None:
    entries = [
        write_fake_shard(tmp_path, "heldout", 0, b"h0"),
        write_fake_shard(tmp_path, "train", 1, b"t1"),
        write_fake_shard(tmp_path, "heldout_style", 0, b"s0"),
        write_fake_shard(tmp_path, "train", 0, b"t0"),
    ]
    Manifest(tmp_path, entries).save()
    loaded = Manifest.load(tmp_path)
    assert [(e.split, e.index) for e in loaded.entries()] == [
        ("train", 0),
        ("train", 1),
        ("heldout", 0),
        ("heldout_style", 0),
    ]
    assert loaded.entries("train") == sorted([entries[1], entries[3]], key=lambda e: e.index)
    assert loaded.splits() == ["train", "heldout", "heldout_style"]
    assert loaded.get("train", 1) == entries[1] and loaded.get("train", 7) is None
    assert len((tmp_path / "manifest.jsonl").read_text().splitlines()) == 4
    assert not list(tmp_path.glob(".*.tmp"))


def test_add_replaces_same_split_and_index(tmp_path: Path) -> None:
    manifest = Manifest(tmp_path, [write_fake_shard(tmp_path, "train", 0, b"old")])
    newer = write_fake_shard(tmp_path, "train", 0, b"new")
    manifest.add(newer)
    assert manifest.entries() == [newer] and len(manifest) == 1


def test_verify_counts_good_shards(tmp_path: Path) -> None:
    manifest = Manifest(tmp_path, [write_fake_shard(tmp_path, "train", i, bytes([i])) for i in range(3)])
    assert manifest.verify() == 3
    assert manifest.verify("heldout") == 0


def test_verify_names_altered_and_missing_shards(tmp_path: Path) -> None:
    manifest = Manifest(tmp_path, [write_fake_shard(tmp_path, "train", i, bytes([i])) for i in range(3)])
    (tmp_path / shard_name("train", 1)).write_bytes(b"tampered")
    (tmp_path / shard_name("train", 2)).unlink()
    with pytest.raises(ManifestError) as caught:
        manifest.verify()
    message = str(caught.value)
    assert "2 shard(s) failed" in message
    assert "train-000001.tar: sha256" in message and "train-000002.tar: listed" in message
    assert "train-000000.tar" not in message


def test_missing_manifest_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"manifest\.jsonl"):
        Manifest.load(tmp_path)
    assert len(Manifest.load(tmp_path, missing_ok=True)) == 0


@pytest.mark.parametrize("line", ["{not json", "[1, 2]", '{"path": "x.tar", "split": "train"}'])
def test_corrupt_manifest_names_file_and_line(tmp_path: Path, line: str) -> None:
    good = write_fake_shard(tmp_path, "train", 0, b"t0").model_dump_json()
    (tmp_path / "manifest.jsonl").write_text(f"{good}\n{line}\n")
    with pytest.raises(ManifestError, match=r"manifest\.jsonl: line 2 is not a valid shard entry"):
        Manifest.load(tmp_path)


def test_save_writes_open_clip_sizes_json_read_by_its_trainer(tmp_path: Path) -> None:
    entries = [write_fake_shard(tmp_path, "train", i, f"t{i}".encode()) for i in range(2)]
    entries.append(write_fake_shard(tmp_path, "heldout", 0, b"h0"))
    manifest = Manifest(tmp_path, entries)
    manifest.add(entries[1].model_copy(update={"n_groups": 5}))
    manifest.save()
    sizes = json.loads((tmp_path / "sizes.json").read_text())
    assert sizes == {"train-000000.tar": 3, "train-000001.tar": 5, "heldout-000000.tar": 3}
    open_clip_data = pytest.importorskip("open_clip_train.data")
    total, n_shards = open_clip_data.get_dataset_size(str(tmp_path / "train-{000000..000001}.tar"))
    assert (total, n_shards) == (8, 2)
