"""The optional build step `images.gate`: `synthmphn build` writes the raw build to <dataset>-raw and the
gated copy to the dataset folder, resumes both, and refuses (before building) what the gate would refuse."""

from pathlib import Path

import yaml
from typer.testing import CliRunner

from synthmphn.cli import app
from synthmphn.data.manifest import Manifest
from synthmphn.data.shards import read_shard
from synthmphn.gate import SUMMARY_NAME
from synthmphn.io import read_json

BASE = """
captions: {n_groups: 24, negatives_per_caption: 1}
images: {pool: ['procedural:flat?fidelity=0.5', procedural:pixel], strategy: msm-all, per_caption: 2, size: 32}
shards: {groups_per_shard: 12}
splits: {heldout_groups: 8, heldout_style_groups: 8}
gate: {action: oracle, model: synth-tiny-cnn-32}
"""


def _build(tmp_path: Path, *overrides: str):
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "base.yaml").write_text(BASE)
    args = ["build", str(tmp_path / "base.yaml"), f"output.dir={tmp_path / 'run'}", *overrides]
    return CliRunner().invoke(app, args)


def test_gated_build_writes_raw_beside_the_gated_dataset_and_resumes(tmp_path: Path):
    result = _build(tmp_path, "images.gate=true")
    assert result.exit_code == 0, result.output
    dataset, raw = tmp_path / "run" / "dataset", tmp_path / "run" / "dataset-raw"
    assert f"dataset: {dataset}" in result.output and "precision" in result.output  # the gate table
    summary = read_json(dataset / SUMMARY_NAME)
    assert summary["source"] == str(raw)
    assert summary["before"]["failures"] > 0 and summary["after"]["failures"] == 0  # the oracle's job
    gated, source = Manifest.load(dataset), Manifest.load(raw)
    assert [e.sha256 for e in gated.entries("heldout")] == [e.sha256 for e in source.entries("heldout")]
    # the raw build's identity is the ungated build's: an ungated build of the same config matches it
    ungated = _build(tmp_path / "plain", f"train.data={raw}")
    assert ungated.exit_code == 0, ungated.output
    assert [e.sha256 for e in Manifest.load(raw).entries()] == [e.sha256 for e in source.entries()]
    # the run's config.yaml is the gated run's (train and eval read the gated folder)
    config = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert config["images"]["gate"] is True and config["train"]["data"] is None
    # a rerun resumes both steps to the same bytes
    again = _build(tmp_path, "images.gate=true")
    assert again.exit_code == 0, again.output
    assert [e.sha256 for e in Manifest.load(dataset).entries()] == [e.sha256 for e in gated.entries()]


def test_gated_build_refuses_before_building(tmp_path: Path):
    bad = _build(tmp_path, "images.gate=true", "gate.attributes=[colour]")  # open_clip model + judges
    assert bad.exit_code != 0 and "gate.attributes" in bad.output
    assert not (tmp_path / "run" / "dataset-raw").exists()
    plain = _build(tmp_path)  # an ungated build in the dataset folder
    assert plain.exit_code == 0, plain.output
    refused = _build(tmp_path, "images.gate=true")
    assert refused.exit_code != 0 and "holds files not written by the gate" in refused.output
    assert not (tmp_path / "run" / "dataset-raw").exists() and Manifest.load(tmp_path / "run" / "dataset")


def test_gated_build_keeps_enough_images_for_the_runs_batch_slot(tmp_path: Path):
    """gate.min_images (default 1) is raised to train.images_per_caption, so train accepts the gated data."""
    result = _build(tmp_path, "images.gate=true", "train.images_per_caption=2")
    assert result.exit_code == 0, result.output
    dataset = tmp_path / "run" / "dataset"
    assert read_json(dataset / SUMMARY_NAME)["gate"]["min_images"] == 2
    assert "| min images per caption | 2 |" in result.output
    manifest = Manifest.load(dataset)
    counts = [
        len(caption.images)
        for entry in manifest.entries("train")
        for group, _ in read_shard(manifest.shard_path(entry))
        for caption in (group, *group.negatives)
    ]
    assert counts and min(counts) >= 2
    config = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert config["gate"]["min_images"] == 2
