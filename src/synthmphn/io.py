"""Atomic file writes, folder locks and the one-line wording of OS errors.

Atomic writes go to a temp file in the same folder, fsync, then rename over the target: a crash leaves
either the old file or the new one, never a torn file. A write error names the target file.
"""

from __future__ import annotations

import errno
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO


@contextmanager
def atomic_open(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Yields a binary file whose content replaces `path` only if the block finishes without error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _default_mode())  # mkstemp makes 0600; give the file the mode a plain open() would
        os.replace(tmp, path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise with_filename(err, path) from err
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def with_filename(err: OSError, path: str | os.PathLike[str]) -> OSError:
    """`err` itself when it names a file, else the same kind of error naming `path`.

    A failed write() on an open handle (disk full, I/O error) carries no file name; the caller knows it.
    """
    if err.filename is not None or err.errno is None:
        return err
    return type(err)(err.errno, err.strerror, str(path))


def os_error_message(err: OSError) -> str:
    """One line saying which path failed and what would be right (used by the CLI for every stage).

    ENOSPC -> "no space left writing PATH"; a read-only or permission-denied path, a file where a folder
    is needed (and the reverse) are named as such; errors built from a message (no errno) keep it.
    """
    path = err.filename
    if err.errno is None or path is None:
        return str(err)
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"no space left writing {path} (free some disk space, or choose another output folder)"
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{path}: not writable ({err.strerror}); choose another output folder or fix its permissions"
    if err.errno == errno.ENOTDIR:
        return f"{path}: a part of this path is a file, not a folder; choose another output folder"
    if err.errno == errno.EEXIST:
        return f"{path}: exists and is not a folder; choose another output folder"
    if err.errno == errno.EISDIR:
        return f"{path}: is a folder where a file was expected"
    return f"{path}: {err.strerror}"


@contextmanager
def folder_lock(folder: str | os.PathLike[str], name: str, what: str) -> Iterator[None]:
    """Holds an exclusive lock (`<folder>/<name>`, flock) while the block runs.

    A second process asking for the same lock prints "waiting for another `what` of FOLDER to finish..."
    and waits, so two jobs on one folder run one after the other instead of interleaving their writes.
    The lock file stays (an empty file); the lock itself dies with the process holding it.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - non-POSIX: no locking
        yield
        return
    fd = os.open(folder / name, os.O_RDWR | os.O_CREAT, 0o666)
    with os.fdopen(fd, "r+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for another {what} of {folder} to finish...", file=sys.stderr)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def remove_stale_temp_files(folder: str | os.PathLike[str], pattern: str) -> list[Path]:
    """Deletes temp files matching `pattern` in `folder` that a killed writer left (call under a lock)."""
    folder = Path(folder)
    removed = sorted(folder.glob(pattern)) if folder.is_dir() else []
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


def _default_mode() -> int:
    """0o666 minus the process umask (reading the umask requires setting it, so restore it at once)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Writes `data` to `path` atomically."""
    with atomic_open(path) as handle:
        handle.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Writes UTF-8 `text` to `path` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Writes `obj` as indented, key-sorted JSON atomically (stable bytes for equal content)."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def read_json(path: str | os.PathLike[str]) -> Any:
    """Reads JSON from `path`, naming the file when it is missing or malformed."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: file not found") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: invalid JSON ({err})") from None
