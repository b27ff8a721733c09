"""WebDataset shard writer/reader: round trip, deterministic bytes, corruption errors, webdataset compatibility."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
import webdataset as wds
from PIL import Image

from synthmphn.data.records import CaptionSpec, Group, ImageRecord, NegativeCaption
from synthmphn.data.shards import (
    ShardError,
    file_sha256,
    group_json,
    index_shard,
    read_shard,
    write_shard,
    write_tar,
)


def png_bytes(value: int, size: int = 8) -> bytes:
    """A tiny solid PNG whose colour encodes `value`."""
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), (value % 256, (value * 7) % 256, (value * 13) % 256)).save(buffer, "PNG")
    return buffer.getvalue()


def make_sample(
    group_id: str, n_base: int = 2, n_neg: int = 1, salt: int = 0
) -> tuple[Group, dict[str, bytes]]:
    """A group with `n_base` base images and `n_neg` negatives (each with as many images), plus their bytes."""
    spec = CaptionSpec(subject="circle", category="shape", attributes={"colour": "red"})
    base = [ImageRecord(key=f"base.{i}.png", generator=f"fake:{i}", seed=100 + i) for i in range(n_base)]
    negatives = [
        NegativeCaption(
            text=f"a blue circle {j}",
            kind="attribute:colour",
            spec=spec.with_change("attribute:colour", "blue"),
            images=[
                ImageRecord(key=f"neg{j}.{i}.png", generator=f"fake:{i}", seed=100 + i) for i in range(n_base)
            ],
        )
        for j in range(n_neg)
    ]
    group = Group(
        id=group_id, caption=f"a red circle {group_id}", spec=spec, images=base, negatives=negatives
    )
    keys = [r.key for r in base] + [r.key for n in negatives for r in n.images]
    return group, {key: png_bytes(salt + 31 * k + len(group_id)) for k, key in enumerate(keys)}


@pytest.fixture
def samples() -> list[tuple[Group, dict[str, bytes]]]:
    return [make_sample(f"g{i:07d}", salt=i) for i in range(5)]


def test_round_trip(tmp_path: Path, samples: list) -> None:
    path = tmp_path / "train-000000.tar"
    sha = write_shard(path, samples)
    assert sha == file_sha256(path)
    assert list(read_shard(path)) == samples


def test_bytes_are_deterministic(tmp_path: Path, samples: list) -> None:
    first = write_shard(tmp_path / "a.tar", samples)
    second = write_shard(tmp_path / "b.tar", [make_sample(f"g{i:07d}", salt=i) for i in range(5)])
    assert first == second
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()
    assert not list(tmp_path.glob(".*"))  # atomic write leaves no temp file


def test_layout_and_headers(tmp_path: Path, samples: list) -> None:
    path = tmp_path / "s.tar"
    write_shard(path, samples[:1])
    with tarfile.open(path) as tar:
        members = tar.getmembers()
        names = [m.name for m in members]
        assert names == sorted(names)
        assert names == [
            "g0000000.base.0.png",
            "g0000000.base.1.png",
            "g0000000.json",
            "g0000000.neg0.0.png",
            "g0000000.neg0.1.png",
            "g0000000.png",
            "g0000000.txt",
        ]
        assert {(m.mtime, m.uid, m.gid, m.uname, m.gname, m.mode) for m in members} == {
            (0, 0, 0, "", "", 0o644)
        }
        group, images = samples[0]
        assert tar.extractfile("g0000000.png").read() == images["base.0.png"]
        assert tar.extractfile("g0000000.txt").read().decode() == group.caption
        assert tar.extractfile("g0000000.json").read() == group_json(group)


def test_jpg_copy_takes_first_base_extension(tmp_path: Path) -> None:
    group = Group(id="g1", caption="c", images=[ImageRecord(key="base.0.jpg", generator="fake:a", seed=1)])
    write_shard(tmp_path / "s.tar", [(group, {"base.0.jpg": b"jpeg-bytes"})])
    with tarfile.open(tmp_path / "s.tar") as tar:
        assert tar.extractfile("g1.jpg").read() == b"jpeg-bytes"


@pytest.mark.parametrize("bad_id", ["g.1", "a/b", "", "x" * 65, "g 1"])
def test_invalid_group_id_is_rejected(tmp_path: Path, bad_id: str) -> None:
    group, images = make_sample("g1")
    with pytest.raises(ShardError, match="not a valid shard key"):
        write_shard(tmp_path / "s.tar", [(group.model_copy(update={"id": bad_id}), images)])
    assert not (tmp_path / "s.tar").exists()


def test_write_rejects_missing_and_extra_images(tmp_path: Path) -> None:
    group, images = make_sample("g1")
    del images["neg0.1.png"]
    with pytest.raises(ShardError, match=r"s\.tar.*missing \['neg0.1.png'\]"):
        write_shard(tmp_path / "s.tar", [(group, images)])
    group, images = make_sample("g1")
    with pytest.raises(ShardError, match="appears twice"):
        write_shard(tmp_path / "s.tar", [(group, images), (group, images)])


def test_index_points_at_member_bytes(tmp_path: Path, samples: list) -> None:
    path = tmp_path / "s.tar"
    write_shard(path, samples)
    data = path.read_bytes()
    index = index_shard(path)
    assert [s.group for s in index] == [g for g, _ in samples]
    for sample, (_, images) in zip(index, samples, strict=True):
        for key, content in images.items():
            span = sample.members[key]
            assert data[span.offset : span.offset + span.size] == content


# ----------------------------------------------------------------------------- corruption


def corrupt(path: Path, how: str) -> None:
    """Damages a shard in one of several ways."""
    data = path.read_bytes()
    with tarfile.open(path) as tar:
        last = tar.getmembers()[-1]
    end_of_members = last.offset_data + ((last.size + 511) // 512) * 512
    damaged = {
        "truncated-half": data[: len(data) // 2],
        "truncated-mid-member": data[: last.offset_data + 10],
        "truncated-at-member-boundary": data[:end_of_members],
        "garbage-middle": data[:2048] + b"\xff" * 4096 + data[2048 + 4096 :],
        "garbage-file": b"this is not a tar file at all" * 50,
        "empty": b"",
    }[how]
    path.write_bytes(damaged)


@pytest.mark.parametrize(
    "how",
    [
        "truncated-half",
        "truncated-mid-member",
        "truncated-at-member-boundary",
        "garbage-middle",
        "garbage-file",
        "empty",
    ],
)
def test_corrupt_shard_raises_naming_the_file(tmp_path: Path, samples: list, how: str) -> None:
    path = tmp_path / "train-000003.tar"
    write_shard(path, samples)
    corrupt(path, how)
    with pytest.raises(ShardError, match="train-000003.tar"):
        list(read_shard(path))
    with pytest.raises(ShardError, match="train-000003.tar"):
        index_shard(path)


def test_missing_shard_raises_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(ShardError, match="nope.tar"):
        list(read_shard(tmp_path / "nope.tar"))


def test_missing_json_raises(tmp_path: Path) -> None:
    path = tmp_path / "s.tar"
    write_tar(path, [("g1.png", b"x"), ("g1.txt", b"caption")])
    with pytest.raises(ShardError, match=r"s\.tar: sample 'g1' has no g1\.json"):
        list(read_shard(path))


def test_invalid_json_raises_naming_member(tmp_path: Path) -> None:
    path = tmp_path / "s.tar"
    write_tar(path, [("g1.json", b"{not json"), ("g1.txt", b"caption")])
    with pytest.raises(ShardError, match=r"s\.tar: member g1\.json is not a valid group record"):
        list(read_shard(path))


def test_image_listed_but_missing_raises_naming_member(tmp_path: Path) -> None:
    group, images = make_sample("g1", n_base=2, n_neg=0)
    path = tmp_path / "s.tar"
    write_tar(path, [("g1.base.0.png", images["base.0.png"]), ("g1.json", group_json(group))])
    with pytest.raises(
        ShardError, match=r"s\.tar: member g1\.base\.1\.png is listed in g1\.json but missing"
    ):
        list(read_shard(path))


# ----------------------------------------------------------------------------- webdataset compatibility


def test_webdataset_reads_base_pairs(tmp_path: Path, samples: list) -> None:
    """What open_clip's --train-data does: decode("pil") then to_tuple("png", "txt")."""
    path = tmp_path / "train-000000.tar"
    write_shard(path, samples)
    dataset = wds.WebDataset(str(path), shardshuffle=False).decode("pil").to_tuple("png", "txt")
    pairs = list(dataset)
    assert len(pairs) == len(samples)
    for (image, text), (group, images) in zip(pairs, samples, strict=True):
        assert text == group.caption
        assert image.tobytes() == Image.open(io.BytesIO(images["base.0.png"])).convert("RGB").tobytes()


def test_webdataset_sees_every_member_under_the_group_key(tmp_path: Path, samples: list) -> None:
    path = tmp_path / "train-000000.tar"
    write_shard(path, samples)
    first = next(iter(wds.WebDataset(str(path), shardshuffle=False)))
    assert first["__key__"] == "g0000000"
    assert set(first) - {"__key__", "__url__", "__local_path__"} == {
        "json",
        "txt",
        "png",
        "base.0.png",
        "base.1.png",
        "neg0.0.png",
        "neg0.1.png",
    }
