"""A real 2 variants × 2 seeds grid on tiny settings: table shape, and a resumed grid equals a fresh one."""

import csv
import shutil
from pathlib import Path

import pytest

from synthmphn.experiment import run_experiment


def _spec(folder: Path, base: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "base.yaml").write_text(base)
    spec = folder / "grid.yaml"
    spec.write_text(
        f"name: tiny\nbase: base.yaml\noutput: {folder / 'out'}\nseeds: [0, 1]\n"
        "metrics: [retrieval/i2t_r1, compositional/text_acc, retrieval/i2t_r10]\n"
        "variants:\n  mpclip: [train.loss=mpclip]\n  sym: [train.loss=tripletclip-sym]\n"
    )
    return spec


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


@pytest.mark.timeout(900)
def test_grid_table_and_resume_equals_fresh(tmp_path: Path, tiny_grid_base: str):
    fresh = run_experiment(_spec(tmp_path / "a", tiny_grid_base))
    rows = _rows(fresh.with_suffix(".csv"))
    assert [(r["metric"], r["variant"]) for r in rows] == [
        ("retrieval/i2t_r1", "mpclip"),
        ("retrieval/i2t_r1", "sym"),
        ("compositional/text_acc", "mpclip"),
        ("compositional/text_acc", "sym"),
        ("retrieval/i2t_r10", "mpclip"),  # not a headline number: any task metric can be a row
        ("retrieval/i2t_r10", "sym"),
        ("retrieval/t2i_r1", "mpclip"),  # a shared set's row the grid did not list: every table shows it
        ("retrieval/t2i_r1", "sym"),
    ]
    assert all(r["n"] == "2" for r in rows)
    # Held-out captions drawn by the reference pool: the same shards for both variants, labelled shared.
    assert {r["scope"] for r in rows} == {"shared"}
    assert "| retrieval/i2t_r1 [shared] |" in fresh.read_text()
    # Both variants train on one shared dataset.
    assert len(list((tmp_path / "a" / "out" / "datasets").iterdir())) == 1
    assert (fresh.parent / "report.html").read_text().count("<table") >= 1
    assert (fresh.parent / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # A half-finished grid: one cell never evaluated, another killed after its first checkpoint.
    spec_b = _spec(tmp_path / "b", tiny_grid_base)
    run_experiment(spec_b)
    out_b = tmp_path / "b" / "out"
    shutil.rmtree(out_b / "sym" / "seed1")
    (out_b / "mpclip" / "seed1" / "eval" / "metrics.json").unlink()
    resumed = run_experiment(spec_b)
    assert _rows(resumed.with_suffix(".csv")) == rows
