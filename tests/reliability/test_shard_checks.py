"""Items 2 and 10: train and eval check each shard's sha256 on read and name the shard (and member)."""

from __future__ import annotations

from pathlib import Path

import pytest
from faults import cli, one_line_error, write_run_config
from tiny_run import write_tiny_dataset

from synthmphn.data import manifest as manifest_module
from synthmphn.data.manifest import Manifest, ManifestError, ShardEntry
from synthmphn.data.shards import ShardError, index_shard, read_shard, write_shard
from synthmphn.data.store import GroupStore
from synthmphn.eval.groups import open_split

SHARD = "train-000000.tar"


def flip_caption_byte(shard: Path) -> None:
    """Changes one letter of the first caption in place ("a red" -> "a rec"): still a valid tar and JSON."""
    data = bytearray(shard.read_bytes())
    at = data.index(b"a red circle 0")
    data[at + 4] = ord("c")
    shard.write_bytes(bytes(data))


def test_a_flipped_caption_byte_is_refused_naming_the_shard(dataset: Path) -> None:
    flip_caption_byte(dataset / SHARD)
    with pytest.raises(ManifestError) as err:
        GroupStore(dataset, "train")
    assert str(err.value).startswith(f"{dataset / SHARD}: sha256 ")
    assert "differs from the manifest's" in str(err.value)
    assert "(members g00000.json and g00000.txt disagree on the caption)" in str(err.value)
    with pytest.raises(ManifestError, match=str(dataset / SHARD)):
        open_split(dataset, "train")  # what every eval task reads through


def test_a_flipped_image_byte_names_the_shard_and_member(dataset: Path) -> None:
    sample = next(s for s in index_shard(dataset / SHARD) if s.group.id == "g00003")
    span = sample.members["base.1.png"]
    data = bytearray((dataset / SHARD).read_bytes())
    data[span.offset + span.size // 2] ^= 0xFF  # inside the compressed pixels
    (dataset / SHARD).write_bytes(bytes(data))
    with pytest.raises(ManifestError, match=r"\(member g00003\.base\.1\.png is not a readable image\)"):
        GroupStore(dataset, "train")


def test_train_on_a_flipped_byte_exits_1_naming_the_shard(dataset: Path, tmp_path: Path) -> None:
    flip_caption_byte(dataset / SHARD)
    config = write_run_config(tmp_path / "run", dataset)
    line = one_line_error(cli("train", config))
    assert f"{dataset / SHARD}: sha256" in line and "rebuild the dataset" in line
    assert not (tmp_path / "run" / "train" / "checkpoints").exists()


def test_each_shard_is_hashed_once_per_process(dataset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Path] = []
    original = manifest_module.file_sha256

    def counting(path):  # type: ignore[no-untyped-def]
        calls.append(Path(path))
        return original(path)

    monkeypatch.setattr(manifest_module, "file_sha256", counting)
    monkeypatch.setattr(manifest_module, "_VERIFIED", set())
    GroupStore(dataset, "train")
    GroupStore(dataset, "train")
    assert calls == [dataset / SHARD]
    flip_caption_byte(dataset / SHARD)  # a changed file (new mtime) is hashed again
    with pytest.raises(ManifestError):
        GroupStore(dataset, "train")
    assert calls == [dataset / SHARD] * 2


def corrupt_image_dataset(root: Path) -> Path:
    """A dataset whose manifest matches its shard, but image g00003.base.1.png holds no image."""
    write_tiny_dataset(root)
    samples = []
    for group, images in read_shard(root / SHARD):
        if group.id == "g00003":
            images = {**images, "base.1.png": b"\x89PNG\r\n\x1a\n broken"}
        samples.append((group, images))
    sha = write_shard(root / SHARD, samples)
    entry = Manifest.load(root).entries("train")[0]
    Manifest(root, [ShardEntry(**{**entry.model_dump(), "sha256": sha})]).save()
    return root


def test_a_corrupt_image_names_the_shard_and_member(tmp_path: Path) -> None:
    root = corrupt_image_dataset(tmp_path / "data")
    store = GroupStore(root, "train")
    index = [g.id for g in store.groups].index("g00003")
    with pytest.raises(
        ShardError, match=rf"{root / SHARD}: member g00003\.base\.1\.png is not a readable image"
    ):
        store.image(index, "base.1.png")


@pytest.mark.parametrize(("loader", "workers"), [("memory", 0), ("workers", 0), ("workers", 1)])
def test_train_on_a_corrupt_image_exits_1_naming_shard_and_member(
    tmp_path: Path, loader: str, workers: int
) -> None:
    root = corrupt_image_dataset(tmp_path / "data")
    config = write_run_config(tmp_path / "run", root, loader=loader, workers=workers, steps=8)
    line = one_line_error(cli("train", config))
    assert f"{root / SHARD}: member g00003.base.1.png is not a readable image" in line
