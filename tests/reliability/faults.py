"""Helpers for the fault catalogue tests: the CLI in-process, its one-line errors, a run's config file."""

from __future__ import annotations

import sys
from pathlib import Path

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
