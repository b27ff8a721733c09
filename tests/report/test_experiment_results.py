"""The experiment results table: one marking of the best variant, in its metric's direction, in every output."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from synthmphn.report.experiment import GridResults, budget_line, write_experiment_results
from synthmphn.report.tables import direction

# variant -> seed -> flat numbers; uniformity is lower-is-better, acc1 higher, modality_gap unranked.
PER_SEED = {
    "a": {
        0: {
            "diagnostics/uniformity_image": -1.0,
            "zeroshot/digits/acc1": 0.5,
            "diagnostics/modality_gap": 0.2,
        },
        1: {
            "diagnostics/uniformity_image": -1.2,
            "zeroshot/digits/acc1": 0.7,
            "diagnostics/modality_gap": 0.4,
        },
    },
    "b": {
        0: {
            "diagnostics/uniformity_image": -2.0,
            "zeroshot/digits/acc1": 0.3,
            "diagnostics/modality_gap": 0.6,
        },
        1: {
            "diagnostics/uniformity_image": -2.2,
            "zeroshot/digits/acc1": 0.3,
            "diagnostics/modality_gap": 0.6,
        },
    },
}
METRICS = ["diagnostics/uniformity_image", "zeroshot/digits/acc1", "diagnostics/modality_gap"]


def _run_dirs(root: Path) -> list[Path]:
    dirs = []
    for variant in PER_SEED:
        run_dir = root / variant / "seed0"
        (run_dir / "eval").mkdir(parents=True)
        (run_dir / "eval" / "metrics.json").write_text(json.dumps({"headline": {}, "tasks": {}}))
        dirs.append(run_dir)
    return dirs


def test_lower_is_better_bolds_the_minimum_in_markdown_csv_json_and_html(tmp_path: Path):
    assert direction("diagnostics/uniformity_image") == "lower"
    assert direction("diagnostics/modality_gap") is None
    grid = GridResults("t", [0, 1], METRICS, ["a", "b"], _run_dirs(tmp_path))
    md = write_experiment_results(tmp_path, grid, PER_SEED)

    # b's uniformity mean (-2.1) is the minimum: bold, although a's (-1.1) is the maximum.
    text = md.read_text()
    assert "| diagnostics/uniformity_image | -1.100 ± 0.141 | **-2.100 ± 0.141** |" in text
    assert "| zeroshot/digits/acc1 | **0.600 ± 0.141** | 0.300 ± 0.000 |" in text
    assert "| diagnostics/modality_gap | 0.300 ± 0.141 | 0.600 ± 0.000 |" in text

    with (tmp_path / "results.csv").open() as handle:
        best = {(r["metric"], r["variant"]) for r in csv.DictReader(handle) if r["best"] == "True"}
    assert best == {("diagnostics/uniformity_image", "b"), ("zeroshot/digits/acc1", "a")}
    rows = json.loads((tmp_path / "results.json").read_text())["rows"]
    assert {(r["metric"], r["variant"]) for r in rows if r["best"]} == best

    page = (tmp_path / "report.html").read_text()
    marked = re.findall(r"<tr><td>([^<]+)</td>(.*?)</tr>", page)
    cells = {name: re.findall(r'<td( class="best")?>([^<]+)</td>', rest) for name, rest in marked}
    assert cells["diagnostics/uniformity_image"] == [
        ("", "-1.100 ± 0.141"),
        (' class="best"', "-2.100 ± 0.141"),
    ]
    assert cells["zeroshot/digits/acc1"] == [(' class="best"', "0.600 ± 0.141"), ("", "0.300 ± 0.000")]
    assert cells["diagnostics/modality_gap"] == [("", "0.300 ± 0.141"), ("", "0.600 ± 0.000")]


def test_equal_means_mark_nothing(tmp_path: Path):
    per_seed = {"a": {0: {"zeroshot/digits/acc1": 0.4}}, "b": {0: {"zeroshot/digits/acc1": 0.4}}}
    md = write_experiment_results(
        tmp_path, GridResults("t", [0], None, ["a", "b"], _run_dirs(tmp_path)), per_seed
    )
    assert "| zeroshot/digits/acc1 | 0.400 ± 0.000 | 0.400 ± 0.000 |" in md.read_text()


def test_header_states_images_per_step(tmp_path: Path):
    budgets = {"a": 128.0, "b": 128.0}
    grid = GridResults("t", [0], METRICS, ["a", "b"], _run_dirs(tmp_path), budgets)
    md = write_experiment_results(tmp_path, grid, PER_SEED)
    assert "images per step: 128 (every variant)" in md.read_text()
    assert budget_line({"a": 64.0, "b": 128.0}).startswith("images per step: a 64, b 128 (**unequal**")
    assert budget_line(None) == ""
