"""The consistency gate's table and plot in the run report and the experiment report (#19)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from PIL import Image

from synthmphn.report.experiment import GridResults, write_experiment_results
from synthmphn.report.gate import gate_summaries, gate_table, write_gate_markdown
from synthmphn.report.html import write_report

PAINTERLY = "procedural:painterly?fidelity=0.45"  # a generator name with a dot in it

SUMMARY = {
    "reference": "embedded",
    "gate": {"action": "drop", "threshold": 0.1, "margin": 0.0, "min_images": 2},
    "before": {"images": 100, "failures": 20, "failure_share": 0.2},
    "after": {"images": 70, "failures": 5, "failure_share": 5 / 70},
    "groups_dropped": 3,
    "quality": {
        "overall": {"precision": 0.5, "recall": 0.75, "false_flag_rate": 0.1875},
        "per_generator": {
            PAINTERLY: {"precision": 0.6, "recall": 0.9},
            "procedural:photo": {"precision": 0.2, "recall": 0.4},
        },
        "per_failure": {
            "omission": {"recall": 1.0},
            "count": {"recall": 0.25},
            "none": {"flag_rate": 0.1875},
        },
    },
}


def gated_run(root: Path, variant: str, summary: dict | None) -> Path:
    """A run folder whose config's train.data is a dataset (gated when `summary` is given)."""
    data = root / "datasets" / variant
    data.mkdir(parents=True)
    if summary is not None:
        (data / "gate_summary.json").write_text(json.dumps(summary))
        Image.new("RGB", (30, 12), (10, 120, 200)).save(data / "gate_quality.png")
    run_dir = root / variant / "seed0"
    (run_dir / "eval").mkdir(parents=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump({"train": {"data": str(data)}}))
    metrics = {"headline": {}, "tasks": {"zeroshot": {"metrics": {"digits/acc1": 0.3}}}}
    (run_dir / "eval" / "metrics.json").write_text(json.dumps(metrics))
    return run_dir


def test_gate_table_reads_every_row_and_each_generator(tmp_path: Path) -> None:
    runs = [gated_run(tmp_path, "no-gate", None), gated_run(tmp_path, "gate-drop", SUMMARY)]
    found = gate_summaries(runs)
    assert [d.parent.name for d, _ in found] == ["gate-drop"]  # the ungated run has no summary
    table = gate_table(["gate-drop"], [s for _, s in found], "Gate")
    values = {row.name: row.values[0] for row in table.rows}
    assert values["action"] == "drop"
    assert values["min images per caption"] == 2
    assert values["images after"] == 70
    assert values["failure share after"] == 5 / 70
    assert values["recall"] == 0.75
    assert values["recall: omission"] == 1.0
    assert values["recall: count"] == 0.25
    assert values["recall: swap"] is None  # a mode the build never drew
    assert values["painterly?fidelity=0.45: precision"] == 0.6
    assert values["photo: recall"] == 0.4


def test_run_report_has_the_gate_section_only_for_gated_data(tmp_path: Path) -> None:
    gated = gated_run(tmp_path, "gate-drop", SUMMARY)
    page = write_report([gated], tmp_path / "gated.html").read_text()
    assert "Consistency gate (training data)" in page
    assert "gate vs recorded failures: seed0" in page
    assert (tmp_path / "gated.md").read_text().count("recall: omission") == 1
    plain = write_report([gated_run(tmp_path, "no-gate", None)], tmp_path / "plain.html").read_text()
    assert "Consistency gate" not in plain


def test_experiment_results_show_the_gate_of_each_gated_variant(tmp_path: Path) -> None:
    runs = [gated_run(tmp_path, "no-gate", None), gated_run(tmp_path, "gate-drop", SUMMARY)]
    per_seed = {
        "no-gate": {0: {"zeroshot/digits/acc1": 0.3}},
        "gate-drop": {0: {"zeroshot/digits/acc1": 0.3}},
    }
    md = write_experiment_results(
        tmp_path, GridResults("g", [0], None, ["no-gate", "gate-drop"], runs), per_seed
    )
    text = md.read_text()
    assert "Consistency gate vs the testbed's recorded failures" in text
    assert "| recall: count | 0.250 |" in text
    page = (tmp_path / "report.html").read_text()
    assert "gate vs recorded failures: gate-drop" in page


def test_gate_markdown_beside_the_gated_dataset(tmp_path: Path) -> None:
    dataset = tmp_path / "gated"
    dataset.mkdir()
    (dataset / "gate_summary.json").write_text(json.dumps({**SUMMARY, "source": "runs/raw/dataset"}))
    text = write_gate_markdown(dataset).read_text()
    assert "- source: runs/raw/dataset" in text
    assert "| precision | 0.500 |" in text and "| recall: omission | 1.000 |" in text
    assert (dataset / "gate_summary.md").is_file()


def test_run_with_its_own_dataset_folder_finds_its_gate_summary(tmp_path: Path) -> None:
    """A gated build (`images.gate`) leaves train.data unset: the summary is in <run>/dataset."""
    run_dir = tmp_path / "run"
    (run_dir / "dataset").mkdir(parents=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump({"train": {"data": None}}))
    assert gate_summaries([run_dir]) == []
    (run_dir / "dataset" / "gate_summary.json").write_text(json.dumps(SUMMARY))
    assert gate_summaries([run_dir]) == [(run_dir, SUMMARY)]
