"""WebDataset shards: one plain POSIX tar sample per group, byte-for-byte deterministic.

Layout of one sample (``__key__`` = group id; WebDataset groups members by the name up to the FIRST dot):

    {id}.json            the Group record (sorted keys), images listed by key
    {id}.txt             the base caption
    {id}.png | {id}.jpg  a copy of the first base image, so open_clip's ``--train-data`` reads base pairs
    {id}.base.0.png ...  every base image under its record key
    {id}.neg0.0.png ...  every image of negative 0, then negative 1, ...

Members are sorted by name within a sample, samples keep the caller's order, and every header has
mtime 0, uid/gid 0, empty owner names and mode 0o644, so the same groups and image bytes always give the
same shard bytes (and sha256). Writes are atomic (temp file + rename).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from PIL import Image
from pydantic import ValidationError

from synthmphn.data.records import Group
from synthmphn.io import atomic_open

IMAGE_EXTENSIONS = ("png", "jpg")
RESERVED_SUFFIXES = ("json", "txt", *IMAGE_EXTENSIONS)
MAX_GROUP_ID_LENGTH = 64  # keeps every member name inside the 100-byte USTAR name field
_GROUP_ID_RE = re.compile(r"^[A-Za-z0-9_-]+$")
_BLOCK = tarfile.BLOCKSIZE
_CHUNK = 1 << 20


class ShardError(ValueError):
    """A shard is unreadable or inconsistent; the message names the shard (and member)."""


# ----------------------------------------------------------------------------- naming


def check_group_id(group_id: str) -> None:
    """Raises ValueError unless `group_id` is usable as a WebDataset key.

    WebDataset splits a member name at the first dot (so ``a.b.json`` would be key ``a``) and a slash
    would make a folder; ids are therefore limited to letters, digits, ``_`` and ``-``.
    """
    if not _GROUP_ID_RE.match(group_id) or len(group_id) > MAX_GROUP_ID_LENGTH:
        raise ValueError(
            f"group id {group_id!r} is not a valid shard key: use 1-{MAX_GROUP_ID_LENGTH} letters, digits, "
            "'_' or '-' (no dots: WebDataset splits member names at the first dot)"
        )


def image_keys(group: Group) -> list[str]:
    """Every image key of a group: base images first, then each negative's, in record order."""
    keys = [record.key for record in group.images]
    for negative in group.negatives:
        keys.extend(record.key for record in negative.images)
    return keys


def _check_image_key(key: str) -> None:
    """Image keys become member suffixes: no slash, not a reserved suffix, a known image extension."""
    extension = key.rsplit(".", 1)[-1]
    if "/" in key or key in RESERVED_SUFFIXES or extension not in IMAGE_EXTENSIONS:
        raise ValueError(
            f"image key {key!r} is not valid: expected e.g. 'base.0.png' or 'neg0.1.jpg' "
            f"(extension one of {IMAGE_EXTENSIONS}, no '/')"
        )


def group_json(group: Group) -> bytes:
    """The group record as compact UTF-8 JSON with sorted keys (stable bytes for equal records)."""
    return json.dumps(group.model_dump(mode="json"), sort_keys=True, ensure_ascii=False).encode("utf-8")


def sample_members(group: Group, images: dict[str, bytes]) -> list[tuple[str, bytes]]:
    """The (member name, bytes) of one group's sample, sorted by name.

    `images` maps every record key of the group (base and negatives) to encoded image bytes.
    """
    check_group_id(group.id)
    keys = image_keys(group)
    if not group.images:
        raise ValueError(f"group {group.id}: has no base image (open_clip needs one per sample)")
    if len(set(keys)) != len(keys):
        raise ValueError(f"group {group.id}: duplicate image keys {sorted(keys)}")
    missing = [k for k in keys if k not in images]
    extra = sorted(set(images) - set(keys))
    if missing or extra:
        raise ValueError(f"group {group.id}: images missing {missing} / not listed in the record {extra}")
    for key in keys:
        _check_image_key(key)
    first = group.images[0].key
    members = {
        "json": group_json(group),
        "txt": group.caption.encode("utf-8"),
        first.rsplit(".", 1)[-1]: images[first],
        **{key: images[key] for key in keys},
    }
    return [(f"{group.id}.{suffix}", members[suffix]) for suffix in sorted(members)]


# ----------------------------------------------------------------------------- writing


class _HashingWriter:
    """A write-only file wrapper that hashes what passes through it (one pass for write + sha256)."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self._position = 0
        self.sha = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self._position += len(data)
        return self._handle.write(data)

    def tell(self) -> int:
        return self._position


def _tar_info(name: str, size: int) -> tarfile.TarInfo:
    """A header with every varying field fixed (time, owner, mode), so bytes depend on name and size only."""
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = 0
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    return info


def write_tar(path: str | os.PathLike[str], members: Iterable[tuple[str, bytes]]) -> str:
    """Writes `members` (name, bytes) in order to a deterministic USTAR tar, atomically; returns its sha256."""
    with atomic_open(path) as handle:
        writer = _HashingWriter(handle)
        with tarfile.open(fileobj=writer, mode="w", format=tarfile.USTAR_FORMAT) as tar:  # type: ignore[call-overload]
            for name, data in members:
                tar.addfile(_tar_info(name, len(data)), io.BytesIO(data))
    return writer.sha.hexdigest()


def write_shard(path: str | os.PathLike[str], samples: list[tuple[Group, dict[str, bytes]]]) -> str:
    """Writes groups and their image bytes as one WebDataset shard (atomically); returns the sha256.

    Raises ShardError naming the shard and group when a group id or image key is invalid, an image listed
    in a record is missing from its bytes (or the reverse), or a group id repeats.
    """
    seen: set[str] = set()
    members: list[tuple[str, bytes]] = []
    for group, images in samples:
        if group.id in seen:
            raise ShardError(f"{path}: group id {group.id!r} appears twice")
        seen.add(group.id)
        try:
            members.extend(sample_members(group, images))
        except ValueError as err:
            raise ShardError(f"{path}: {err}") from None
    return write_tar(path, members)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The sha256 hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# ----------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class MemberSpan:
    """Where a member's data lies in its shard file (for seek + read)."""

    offset: int
    size: int


@dataclass
class IndexedSample:
    """One sample of a shard: its parsed group and where each member (by suffix) lies in the file."""

    group: Group
    members: dict[str, MemberSpan] = field(default_factory=dict)


def _split_member(shard: Path, name: str) -> tuple[str, str]:
    """(key, suffix) of a member name, split at the first dot as WebDataset does."""
    key, dot, suffix = name.partition(".")
    if not dot or not key or not suffix or "/" in name:
        raise ShardError(f"{shard}: member {name!r} is not named '<group id>.<suffix>'")
    return key, suffix


def _check_end_of_archive(shard: Path, tar: tarfile.TarFile, handle: BinaryIO) -> None:
    """Fails unless the archive ends with the zero blocks every tar writer appends.

    tarfile stops quietly at a truncated or garbled header after the first member, so without this check
    a shard cut at a member boundary (or overwritten mid-way) would read as a shorter, valid shard.
    """
    handle.seek(tar.offset)
    zeros = 0
    while chunk := handle.read(_CHUNK):
        if chunk.count(0) != len(chunk):
            position = tar.offset + zeros + next(i for i, b in enumerate(chunk) if b)
            raise ShardError(f"{shard}: corrupt: unreadable data at byte {position} (not a tar header)")
        zeros += len(chunk)
    if zeros < 2 * _BLOCK:
        raise ShardError(f"{shard}: truncated: the end-of-archive marker is missing")


def _parse_sample(shard: Path, key: str, raw_json: bytes | None, spans: dict[str, MemberSpan]) -> Group:
    """Parses a sample's json member and checks every image it lists is present."""
    if raw_json is None:
        raise ShardError(f"{shard}: sample {key!r} has no {key}.json member")
    try:
        group = Group.model_validate_json(raw_json)
    except ValidationError as err:
        raise ShardError(
            f"{shard}: member {key}.json is not a valid group record ({err.error_count()} errors: "
            f"{err.errors()[0]['msg']})"
        ) from None
    if group.id != key:
        raise ShardError(f"{shard}: member {key}.json holds group id {group.id!r}, expected {key!r}")
    for image_key in image_keys(group):
        if image_key not in spans:
            raise ShardError(f"{shard}: member {key}.{image_key} is listed in {key}.json but missing")
    return group


def _scan(
    path: str | os.PathLike[str], load_images: bool
) -> Iterator[tuple[IndexedSample, dict[str, bytes]]]:
    """Walks a shard once, yielding each sample's index and (if `load_images`) its image bytes.

    Every failure (unreadable tar, truncation, missing or invalid json, missing image) is a ShardError
    that names the shard and, where there is one, the member.
    """
    shard = Path(path)
    try:
        handle = open(shard, "rb")  # noqa: SIM115 - closed in finally, shared with tarfile
    except OSError as err:
        raise ShardError(f"{shard}: cannot open shard ({err.strerror})") from None
    try:
        yield from _scan_open(shard, handle, load_images)
    finally:
        handle.close()


def _scan_open(
    shard: Path, handle: BinaryIO, load_images: bool
) -> Iterator[tuple[IndexedSample, dict[str, bytes]]]:
    """The body of `_scan` on an open file handle."""
    seen: set[str] = set()
    key: str | None = None
    raw_json: bytes | None = None
    spans: dict[str, MemberSpan] = {}
    data: dict[str, bytes] = {}
    member_name = "(start)"
    try:
        with tarfile.open(fileobj=handle, mode="r:") as tar:
            for member in tar:
                member_name = member.name
                if not member.isfile():
                    raise ShardError(f"{shard}: member {member.name!r} is not a regular file")
                member_key, suffix = _split_member(shard, member.name)
                if member_key != key:
                    if key is not None:
                        yield IndexedSample(_parse_sample(shard, key, raw_json, spans), spans), data
                    if member_key in seen:
                        raise ShardError(
                            f"{shard}: sample {member_key!r} is split (its members are not adjacent)"
                        )
                    seen.add(member_key)
                    key, raw_json, spans, data = member_key, None, {}, {}
                spans[suffix] = MemberSpan(member.offset_data, member.size)
                if suffix == "json" or (load_images and suffix not in RESERVED_SUFFIXES):
                    content = _read_member(shard, tar, member)
                    if suffix == "json":
                        raw_json = content
                    else:
                        data[suffix] = content
            if key is None:
                raise ShardError(f"{shard}: shard holds no sample")
            _check_end_of_archive(shard, tar, handle)
        yield IndexedSample(_parse_sample(shard, key, raw_json, spans), spans), data
    except (tarfile.TarError, EOFError, OSError) as err:
        raise ShardError(f"{shard}: corrupt or truncated near member {member_name!r} ({err})") from None


def _read_member(shard: Path, tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    """A member's bytes; fails (naming it) when the file ends before the member does."""
    extracted = tar.extractfile(member)
    content = extracted.read() if extracted is not None else b""
    if len(content) != member.size:
        raise ShardError(
            f"{shard}: member {member.name!r} is truncated ({len(content)} of {member.size} bytes)"
        )
    return content


def index_shard(path: str | os.PathLike[str]) -> list[IndexedSample]:
    """Every sample of a shard with its parsed group and member spans, reading only the json members."""
    return [sample for sample, _ in _scan(path, load_images=False)]


def read_shard(path: str | os.PathLike[str]) -> Iterator[tuple[Group, dict[str, bytes]]]:
    """Yields (group, {image key: bytes}) for every sample, in shard order; the inverse of `write_shard`.

    Raises ShardError naming the shard (and member) on a corrupt or truncated tar, a sample without json,
    invalid json, or an image listed in the json but missing.
    """
    for sample, images in _scan(path, load_images=True):
        yield sample.group, {key: images[key] for key in image_keys(sample.group)}


def damaged_member(path: str | os.PathLike[str]) -> str | None:
    """What no longer reads back in a shard, to name what a sha256 mismatch broke (one read of the file).

    Checks the tar and every group JSON (as `read_shard` does), each `{id}.txt` against its JSON's caption,
    that each image decodes, and the `{id}.png` copy against the first base image. None when every member
    reads back: the change is then in bytes no reader checks (tar padding, image data that still decodes).
    """
    shard = Path(path)
    try:
        samples = list(_scan(shard, load_images=True))
    except ShardError as err:
        return str(err).removeprefix(f"{shard}: ")
    with open(shard, "rb") as handle:
        for sample, images in samples:
            group = sample.group

            def member(suffix: str, sample: IndexedSample = sample) -> bytes:
                span = sample.members[suffix]
                handle.seek(span.offset)
                return handle.read(span.size)

            if "txt" in sample.members and member("txt") != group.caption.encode("utf-8"):
                return f"members {group.id}.json and {group.id}.txt disagree on the caption"
            for key, data in images.items():
                if not _decodes(data):
                    return f"member {group.id}.{key} is not a readable image"
            first = group.images[0].key
            copy = first.rsplit(".", 1)[-1]
            if copy in sample.members and member(copy) != images[first]:
                return f"member {group.id}.{copy} differs from {group.id}.{first}, of which it is a copy"
    return None


def _decodes(data: bytes) -> bool:
    """True when PIL can fully decode the bytes as an image."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
    except (OSError, ValueError, SyntaxError):
        return False
    return True
