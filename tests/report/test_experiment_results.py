"""The experiment results table: one marking of the best variant, in its metric's direction, in every output."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from synthmphn.report.experiment import (
    NOT_IDENTICAL,
    SHARED_ROWS,
    GridResults,
    budget_line,
    metric_scopes,
    with_shared_rows,
    write_experiment_results,
)
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


def _runs_with_sets(root: Path, heldout: dict[tuple[str, int], tuple[str, str]]) -> list[Path]:
    """Run folders whose metrics.json records eval_sets; `heldout`: (variant, seed) -> (scope, fingerprint)."""
    dirs = []
    for (variant, seed), (scope, fingerprint) in heldout.items():
        run_dir = root / variant / f"seed{seed}"
        (run_dir / "eval").mkdir(parents=True)
        sets = {
            "digits": {"scope": "shared", "kind": "real"},
            "heldout": {"scope": scope, "pool": ["procedural:flat"], "fingerprint": fingerprint},
            "heldout_style": {"scope": "shared", "pool": ["procedural:mosaic"], "fingerprint": "s"},
        }
        (run_dir / "eval" / "metrics.json").write_text(
            json.dumps({"headline": {}, "tasks": {}, "eval_sets": sets})
        )
        dirs.append(run_dir)
    return dirs


def test_rows_are_labelled_shared_or_in_domain_by_their_eval_set(tmp_path: Path):
    # Per seed both variants read the same heldout shards (the data seed varies with the seed): shared.
    same = {
        ("a", 0): ("shared", "h0"),
        ("b", 0): ("shared", "h0"),
        ("a", 1): ("shared", "h1"),
        ("b", 1): ("shared", "h1"),
    }
    metrics = [
        "aggregate",
        "zeroshot/digits/acc1",
        "retrieval/i2t_r1",
        "zeroshot/heldout_style/acc1",
        "generators/x",
    ]
    assert metric_scopes(metrics, _runs_with_sets(tmp_path / "same", same)) == {
        "aggregate": "shared",
        "zeroshot/digits/acc1": "shared",
        "retrieval/i2t_r1": "shared",
        "zeroshot/heldout_style/acc1": "shared",
    }
    # One variant drew the held-out captions with its own pool: those rows (and the aggregate) are in-domain.
    own = {**same, ("b", 1): ("in-domain", "h9")}
    scopes = metric_scopes(metrics, _runs_with_sets(tmp_path / "own", own))
    assert scopes["retrieval/i2t_r1"] == scopes["aggregate"] == "in-domain"
    assert scopes["zeroshot/digits/acc1"] == scopes["zeroshot/heldout_style/acc1"] == "shared"
    # Called shared, but the variants of seed 0 read different shards.
    differ = {**same, ("b", 0): ("shared", "hX")}
    assert metric_scopes(["retrieval/i2t_r1"], _runs_with_sets(tmp_path / "differ", differ)) == {
        "retrieval/i2t_r1": NOT_IDENTICAL
    }
    assert metric_scopes(metrics, _run_dirs(tmp_path / "old")) == {}  # evals that predate eval_sets


def test_the_table_labels_rows_and_always_shows_the_shared_sets(tmp_path: Path):
    same = {("a", 0): ("shared", "h0"), ("b", 0): ("shared", "h0")}
    per_seed = {
        v: {0: {"zeroshot/digits/acc1": x, "zeroshot/heldout/acc1": x / 2}}
        for v, x in (("a", 0.4), ("b", 0.6))
    }
    grid = GridResults(
        "t", [0], ["zeroshot/digits/acc1"], ["a", "b"], _runs_with_sets(tmp_path / "runs", same)
    )
    text = write_experiment_results(tmp_path, grid, per_seed).read_text()
    assert "| zeroshot/digits/acc1 [shared] | 0.400 ± 0.000 | **0.600 ± 0.000** |" in text
    assert "| zeroshot/heldout/acc1 [shared] |" in text  # not listed by the grid: a shared row, appended
    assert "drawn by the reference pool: procedural:flat" in text
    with (tmp_path / "results.csv").open() as handle:
        assert {(r["metric"], r["scope"]) for r in csv.DictReader(handle)} == {
            ("zeroshot/digits/acc1", "shared"),
            ("zeroshot/heldout/acc1", "shared"),
        }
    assert with_shared_rows(None) is None
    assert with_shared_rows(["retrieval/t2i_r1", "x"]) == [
        "retrieval/t2i_r1",
        "x",
        *(m for m in SHARED_ROWS if m != "retrieval/t2i_r1"),
    ]
