"""Config loading: YAML + key.sub=value overrides, errors that name the file and field."""

from pathlib import Path

import pytest

from synthmphn.config import ConfigError, load_config, parse_override


def test_overrides_parse_yaml_values():
    assert parse_override("images.size=32") == (["images", "size"], 32)
    assert parse_override("images.pool=[procedural:flat, procedural:pixel]") == (
        ["images", "pool"],
        ["procedural:flat", "procedural:pixel"],
    )
    assert parse_override("output.dir=runs/x") == (["output", "dir"], "runs/x")


def test_yaml_then_overrides(tmp_path: Path):
    path = tmp_path / "run.yaml"
    path.write_text(
        "seed: 3\nimages:\n  size: 48\n  strategy: single\n  pool: [procedural:flat]\n  per_caption: 2\n"
    )
    cfg = load_config(path, ["images.size=32", "train.loss=clip"])
    assert cfg.seed == 3
    assert cfg.images.size == 32
    assert cfg.images.strategy == "single"
    assert cfg.train.loss == "clip"
    assert cfg.dataset_dir == Path("runs/quickstart/dataset")


def test_unknown_field_is_named(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text("images:\n  sise: 3\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: images.sise: Extra inputs"):
        load_config(path)


def test_wrong_value_is_named():
    with pytest.raises(ConfigError, match=r"images.strategy"):
        load_config(None, ["images.strategy=all-of-them"])
    with pytest.raises(ConfigError, match=r"train.lr: Input should be greater than 0"):
        load_config(None, ["train.lr=-1"])


def test_bad_override_syntax_and_missing_file(tmp_path: Path):
    with pytest.raises(ConfigError, match="key.sub=value"):
        load_config(None, ["images.size"])
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="images.pool"):
        load_config(None, ["images.pool=[]"])


def test_train_needs_a_length():
    with pytest.raises(ConfigError, match="train.epochs or train.steps"):
        load_config(None, ["train.steps=null"])
