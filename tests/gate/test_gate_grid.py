"""A gated variant of a real (tiny) grid: its dataset is `synthmphn gate` of the shared raw build."""

from pathlib import Path

import pytest
import yaml

from synthmphn.data.manifest import Manifest
from synthmphn.experiment import run_experiment
from synthmphn.gate import SUMMARY_NAME
from synthmphn.io import read_json


@pytest.mark.timeout(900)
def test_a_gated_variant_trains_on_the_gated_copy_of_the_raw_build(tmp_path: Path, tiny_grid_base: str):
    (tmp_path / "base.yaml").write_text(
        tiny_grid_base.replace(
            "procedural:flat, procedural:pixel", "'procedural:flat?fidelity=0.5', procedural:pixel"
        )
    )
    spec = tmp_path / "grid.yaml"
    spec.write_text(
        f"name: tiny-gate\nbase: base.yaml\noutput: {tmp_path / 'out'}\nseeds: [0]\n"
        "overrides: [gate.min_images=2]\nmetrics: [retrieval/i2t_r1]\n"
        "variants:\n  raw: []\n  oracle: {gate: true, overrides: [gate.action=oracle, gate.model=synth-tiny-cnn-32]}\n"
    )
    run_experiment(spec)
    configs = {
        v: yaml.safe_load((tmp_path / "out" / v / "seed0" / "config.yaml").read_text())
        for v in ("raw", "oracle")
    }
    raw_data = Path(configs["raw"]["train"]["data"])
    gated_data = Path(configs["oracle"]["train"]["data"])
    assert gated_data.parent.name.endswith("-gate") and not raw_data.parent.name.endswith("-gate")
    # the raw build is shared: one raw dataset folder, one gated copy of it
    assert sorted(p.name for p in (tmp_path / "out" / "datasets").iterdir()) == sorted(
        [raw_data.parent.name, gated_data.parent.name]
    )
    summary = read_json(gated_data / SUMMARY_NAME)
    assert summary["source"] == str(raw_data) and summary["after"]["failures"] == 0
    assert summary["before"]["failures"] > 0  # the half-faithful flat style failed somewhere
    raw, gated = Manifest.load(raw_data), Manifest.load(gated_data)
    for split in ("heldout", "heldout_style"):  # shared eval sets
        assert [e.sha256 for e in raw.entries(split)] == [e.sha256 for e in gated.entries(split)]
    for variant in ("raw", "oracle"):
        assert (tmp_path / "out" / variant / "seed0" / "eval" / "metrics.json").is_file()
