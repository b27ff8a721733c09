"""The report opens in headless Chromium without console errors and renders to a non-blank PNG."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from synthmphn.report.html import write_report
from synthmphn.report.screenshot import find_browser, render_png

pytestmark = pytest.mark.skipif(
    find_browser() is None, reason="needs headless Chromium (Debian: apt-get install -y chromium)"
)


def test_report_renders_to_png(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "eval").mkdir(parents=True)
    metrics = {
        "headline": {"zeroshot/digits/acc1": 0.5},
        "tasks": {"zeroshot": {"metrics": {"digits/acc1": 0.5}},
                  "compositional": {"metrics": {"text_acc": 0.6},
                                    "tables": {"per_kind": [{"kind": "colour", "text_acc": 0.6, "image_acc": 0.7}]}}},
        "errors": {},
    }  # fmt: skip
    (run / "eval" / "metrics.json").write_text(json.dumps(metrics))
    shot = render_png(write_report([run]), tmp_path / "report.png", width=1000, height=1200)
    assert shot.console == []
    image = Image.open(shot.path).convert("L")
    assert image.size == (1000, 1200)
    low, high = image.getextrema()
    assert high - low > 100  # text and tables drew something on the white page
