"""Item 9: an images.size no machine can render is a config error naming the field, before any file."""

from __future__ import annotations

from pathlib import Path

import pytest
from faults import cli

from synthmphn.config import MAX_IMAGE_SIZE, ConfigError, load_config


def test_images_size_is_bounded_with_a_clear_message() -> None:
    with pytest.raises(ConfigError) as err:
        load_config("configs/quickstart.yaml", ["images.size=100000"])
    assert str(err.value) == (
        "configs/quickstart.yaml: images.size: Value error, 100000 pixels per side is more than "
        f"{MAX_IMAGE_SIZE} (images are rendered and held in memory at this size); use 8..{MAX_IMAGE_SIZE}"
    )
    assert load_config(None, [f"images.size={MAX_IMAGE_SIZE}"]).images.size == MAX_IMAGE_SIZE


def test_build_with_a_huge_image_size_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    result = cli("build", "configs/quickstart.yaml", "images.size=100000", f"output.dir={tmp_path / 'run'}")
    assert result.exit_code == 2 and "images.size" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()


def test_a_malformed_run_config_is_one_line_with_line_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "run.yaml"
    bad.write_text("images:\n  size: [1, 2\ntrain: {}\n")
    with pytest.raises(ConfigError) as err:
        load_config(bad)
    assert str(err.value) == f"{bad}: not valid YAML (line 3, column 6: expected ',' or ']', but got ':')"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00")
    with pytest.raises(ConfigError, match=rf"{bad}: not a UTF-8 text file \(byte 0: invalid start byte\)"):
        load_config(bad)
