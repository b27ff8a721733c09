"""Items 15 and 16: a malformed experiment YAML, or one bad cell, is refused in one line before any work."""

from __future__ import annotations

from pathlib import Path

from faults import cli, one_line_error, write_grid


def test_malformed_experiment_yaml_is_one_line_naming_file_and_line(tmp_path: Path) -> None:
    spec = tmp_path / "grid.yaml"
    spec.write_text("name: tiny\nvariants:\n  a: [train.loss=mpclip\n  b: []\n")  # unclosed list
    line = one_line_error(cli("experiment", spec))
    assert line.startswith(f"error: {spec}: not valid YAML (line ")


def test_a_binary_experiment_file_is_named(tmp_path: Path) -> None:
    spec = tmp_path / "grid.yaml"
    spec.write_bytes(b"\x89PNG\r\n\x1a\n\x00")
    line = one_line_error(cli("experiment", spec))
    assert line.startswith(f"error: {spec}: not a UTF-8 text file")


def test_every_cell_is_validated_before_any_trains(tmp_path: Path, tiny_grid_base: str) -> None:
    spec = write_grid(
        tmp_path, tiny_grid_base, {"good": ["train.loss=mpclip"], "typo": ["train.loss=mpclipp"]}
    )
    line = one_line_error(cli("experiment", spec))
    assert f"{spec}: variant 'typo' (seed 0): " in line and "'mpclipp'" in line
    assert not (tmp_path / "out").exists()  # no dataset built, no cell trained


def test_a_cell_with_a_bad_override_names_its_variant(tmp_path: Path, tiny_grid_base: str) -> None:
    spec = write_grid(tmp_path, tiny_grid_base, {"good": [], "sloppy": ["train.lr=-1"]})
    result = cli("experiment", spec)
    assert result.exit_code != 0 and "Traceback" not in result.stderr
    assert f"{spec}: variant 'sloppy' (seed 0): " in result.stderr and "train.lr" in result.stderr
    assert not (tmp_path / "out").exists()
