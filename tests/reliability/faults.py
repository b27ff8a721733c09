"""Helpers for the fault catalogue tests: the CLI in-process, its one-line errors, a run's config file,
a full disk."""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from typer.testing import CliRunner, Result

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))  # tiny_run.py, shared with tests/train

from tiny_run import tiny_config  # noqa: E402

from synthmphn.cli import app  # noqa: E402


def write_run_config(run: Path, data: Path, **train: object) -> Path:
    """Writes the tiny run's resolved config to RUN/config.yaml (what `train` and `eval` read)."""
    from synthmphn.config import config_to_dict
    from synthmphn.provenance import write_config

    write_config(run, config_to_dict(tiny_config(run, data, **train)))
    return run / "config.yaml"


def cli(*args: object) -> Result:
    """Runs `synthmphn ARGS` in this process (so tests can simulate faults with monkeypatch)."""
    return CliRunner().invoke(app, [str(a) for a in args])


def one_line_error(result: Result) -> str:
    """The CLI's error line; fails unless the run exited non-zero with exactly one line and no traceback."""
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


class FullDisk:
    """A file handle on a full disk: every write fails with ENOSPC naming no file (as write() does); all else
    (flush, fileno, close, `with`) is the real handle's."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle

    def write(self, data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.handle, name)

    def __enter__(self) -> FullDisk:
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.close()


def fill_disk(monkeypatch: pytest.MonkeyPatch, module: ModuleType) -> None:
    """Makes `module.atomic_open` write through a FullDisk handle, inside the real atomic_open (its temp file,
    its cleanup and its naming of the target on error all run)."""
    real_open = module.atomic_open

    @contextmanager
    def full_disk_open(path: Path) -> Iterator[Any]:
        with real_open(path) as handle:
            yield FullDisk(handle)

    monkeypatch.setattr(module, "atomic_open", full_disk_open)


def no_space_line(path: Path) -> str:
    """The CLI's line for a full disk while writing `path`."""
    return f"error: no space left writing {path} (free some disk space, or choose another output folder)"


def write_grid(folder: Path, base: str, variants: dict[str, list[str]], extra: str = "") -> Path:
    """An experiment spec `folder/grid.yaml` over `folder/base.yaml` (one seed, output `folder/out`)."""
    (folder / "base.yaml").write_text(base)
    lines = "".join(f"  {name}: [{', '.join(overrides)}]\n" for name, overrides in variants.items())
    spec = folder / "grid.yaml"
    spec.write_text(
        f"name: tiny\nbase: base.yaml\noutput: {folder / 'out'}\nseeds: [0]\n{extra}variants:\n{lines}"
    )
    return spec
