"""The `make run` path on tiny settings: `synthmphn pipeline` builds, trains, evaluates and reports."""

import json
import os
import subprocess
import sys
from pathlib import Path

TINY = [
    "captions.n_groups=24",
    "images.workers=1",
    "shards.groups_per_shard=12",
    "splits.heldout_groups=8",
    "splits.heldout_style_groups=8",
    "train.steps=3",
    "train.batch_size=8",
    "train.warmup_steps=1",
    "train.workers=0",
    "train.threads=1",
    "eval.tasks=[zeroshot, compositional]",
]


def test_pipeline_command_end_to_end(tmp_path: Path):
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "synthmphn.cli",
        "pipeline",
        "configs/quickstart.yaml",
        f"output.dir={out}",
        *TINY,
    ]
    env = {**os.environ, "SYNTHMPHN_QUIET": "1"}
    done = subprocess.run(
        cmd, capture_output=True, text=True, env=env, timeout=600, cwd=Path(__file__).resolve().parents[1]
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"Report: {(out / 'report.html').resolve()}" in done.stdout
    metrics = json.loads((out / "eval" / "metrics.json").read_text())
    assert 0.0 <= metrics["headline"]["zeroshot/digits/acc1"] <= 1.0
    assert (
        metrics["tasks"]["zeroshot"]["metrics"]["digits/n_images"] == 1797
    )  # the real digits are in every report
    assert (out / "config.yaml").exists() and (out / "train" / "run_info.json").exists()


def test_config_error_exits_2_and_names_the_field(tmp_path: Path):
    cmd = [sys.executable, "-m", "synthmphn.cli", "build", "configs/quickstart.yaml", "images.sise=3"]
    done = subprocess.run(
        cmd, capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[1]
    )
    assert done.returncode == 2
    assert "images.sise" in done.stderr
