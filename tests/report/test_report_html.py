"""The HTML report: self-contained, every run as a column, best values marked, markdown twin, bad input."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from PIL import Image

from synthmphn.report.html import write_report
from synthmphn.report.load import load_runs, run_labels
from synthmphn.report.tables import direction, headline_table, metric_row


def png_file(path: Path) -> None:
    Image.new("RGB", (20, 10), (200, 30, 30)).save(path)


def make_run(folder: Path, acc: float, alignment: float, errors: dict | None = None) -> Path:
    """A run folder as `synthmphn eval` leaves it: eval/metrics.json, a t-SNE PNG and config.yaml."""
    (folder / "eval").mkdir(parents=True)
    png_file(folder / "eval" / "tsne_digits.png")
    tasks = {
        "zeroshot": {
            "metrics": {"digits/acc1": acc, "digits/n_images": 1797},
            "tables": {"digits/per_class": [{"class": "digit 0", "n": 178, "acc1": acc}]},
        },
        "compositional": {
            "metrics": {"text_acc": acc, "text/colour": acc, "image/colour": 1 - acc},
            "tables": {"per_kind": [{"kind": "colour", "text_acc": acc, "image_acc": 1 - acc}]},
        },
        "diagnostics": {
            "metrics": {"alignment": alignment, "modality_gap": 0.3},
            "plots": {"tsne_digits": "tsne_digits.png"},
        },
        "generators": {
            "metrics": {},
            "plots": {},
            "tables": {
                "generators": [
                    {
                        "generator": "procedural:flat",
                        "recognizability": acc,
                        "diversity": 0.2,
                        "n_images": 10,
                        "n_classes": 2,
                        "heldout_style": False,
                    },
                    {
                        "generator": "procedural:mosaic",
                        "recognizability": 0.5,
                        "diversity": 0.4,
                        "n_images": 5,
                        "n_classes": 2,
                        "heldout_style": True,
                    },
                ]
            },
        },
        "retrieval": {"error": "FileNotFoundError: dataset folder not found"},
    }
    metrics = {
        "headline": {
            "zeroshot/digits/acc1": acc,
            "compositional/text_acc": acc,
            "diagnostics/alignment": alignment,
        },
        "tasks": tasks,
        "errors": errors or {},
        "checkpoint": str(folder / "train/checkpoints/last.pt"),
    }
    (folder / "eval" / "metrics.json").write_text(json.dumps(metrics))
    (folder / "config.yaml").write_text(f"seed: 0\ntrain:\n  loss: {folder.name}\n  steps: 10\n")
    return folder


@pytest.fixture
def runs(tmp_path: Path) -> list[Path]:
    return [
        make_run(
            tmp_path / "clip",
            0.25,
            0.9,
            errors={"retrieval": ["FileNotFoundError: dataset folder not found"]},
        ),
        make_run(tmp_path / "mpclip", 0.75, 0.4),
    ]


def test_report_is_self_contained_and_compares_runs(runs: list[Path]) -> None:
    out = write_report(runs)
    assert out == runs[0] / "report.html"
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert "<th>clip</th>" in page and "<th>mpclip</th>" in page
    assert not re.search(r"https?://|src=\"(?!data:)|<script|<link", page)  # nothing fetched, nothing run
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) >= 4  # 2 t-SNE plots, compositional bars, generator scatter
    for data in images:
        import base64

        assert Image.open(io.BytesIO(base64.b64decode(data))).format == "PNG"
    assert "dataset folder not found" in page  # errors are shown
    # best marked: mpclip's higher accuracy, and its lower alignment
    assert '<td class="best">0.750</td>' in page and '<td class="best">0.400</td>' in page


def test_markdown_twin(runs: list[Path], tmp_path: Path) -> None:
    out = write_report(runs, tmp_path / "cmp" / "side.html")
    markdown = (tmp_path / "cmp" / "side.md").read_text()
    assert "| metric | clip | mpclip |" in markdown
    assert "| zeroshot/digits/acc1 | 0.250 | **0.750** |" in markdown
    assert "| diagnostics/alignment | 0.900 | **0.400** |" in markdown
    assert out.is_file()


def test_missing_metrics_names_the_run(runs: list[Path], tmp_path: Path) -> None:
    (tmp_path / "fresh").mkdir()
    with pytest.raises(FileNotFoundError, match=r"fresh: no eval/metrics\.json; run `synthmphn eval"):
        write_report([runs[0], tmp_path / "fresh"])
    with pytest.raises(ValueError, match="at least one run"):
        write_report([])


def test_labels_are_unique() -> None:
    assert run_labels([Path("a/run"), Path("b/run"), Path("c")]) == ["a/run", "b/run", "c"]


def test_directions_and_best_marks(runs: list[Path]) -> None:
    assert direction("zeroshot/digits/acc1") == "higher"
    assert direction("diagnostics/uniformity_image") == "lower"
    assert direction("diagnostics/modality_gap") is None and direction("digits_C") is None
    assert direction("retrieval/n_images") is None
    assert metric_row("x/acc1", [0.5, 0.5]).best == set()  # all equal: nothing to mark
    assert metric_row("x/acc1", [0.5, None, 0.7, 0.7]).best == {2, 3}
    table = headline_table(load_runs(runs))
    assert [row.name for row in table.rows] == [
        "zeroshot/digits/acc1",
        "compositional/text_acc",
        "diagnostics/alignment",
    ]
