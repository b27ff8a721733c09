"""torchrun with 2 processes (gloo on CPU) trains exactly like 1 process on the same global batch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from tiny_run import tiny_config

from synthmphn.config import config_to_dict
from synthmphn.models.checkpoint import load_checkpoint
from synthmphn.train.checkpoints import last_checkpoint
from synthmphn.train.logging import read_metrics


def torchrun_train(config_path: Path, processes: int) -> subprocess.CompletedProcess[str]:
    """`torchrun --standalone --nproc_per_node N --no-python synthmphn train CONFIG` from this venv."""
    cli = Path(sys.executable).parent / "synthmphn"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={processes}",
        "--no-python",
        str(cli),
        "train",
        str(config_path),
    ]
    env = {**os.environ, "SYNTHMPHN_QUIET": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def test_two_processes_equal_one(finished_run: Path, tiny_dataset: Path, tmp_path: Path) -> None:
    cfg = tiny_config(tmp_path / "ddp", tiny_dataset)
    config_path = tmp_path / "ddp.yaml"
    config_path.write_text(yaml.safe_dump(config_to_dict(cfg)))
    result = torchrun_train(config_path, processes=2)
    assert result.returncode == 0, result.stderr[-4000:]

    one = load_checkpoint(last_checkpoint(finished_run))
    two = load_checkpoint(last_checkpoint(tmp_path / "ddp" / "train"))
    assert two["synthmphn"]["step"] == 4
    for name, value in one["state_dict"].items():
        torch.testing.assert_close(two["state_dict"][name], value, rtol=1e-4, atol=1e-5, msg=name)
    losses_one = [r["loss"] for r in read_metrics(finished_run / "metrics.jsonl")]
    losses_two = [r["loss"] for r in read_metrics(tmp_path / "ddp" / "train" / "metrics.jsonl")]
    assert losses_two == pytest.approx(losses_one, rel=1e-5)


def test_two_processes_equal_one_for_the_batchnorm_free_cnn(tiny_dataset: Path, tmp_path: Path) -> None:
    from synthmphn.train.loop import run_training

    one_dir = run_training(
        tiny_config(tmp_path / "one", tiny_dataset, model={"name": "synth-tiny-convnext-32"})
    )
    cfg = tiny_config(tmp_path / "ddp", tiny_dataset, model={"name": "synth-tiny-convnext-32"})
    config_path = tmp_path / "ddp.yaml"
    config_path.write_text(yaml.safe_dump(config_to_dict(cfg)))
    result = torchrun_train(config_path, processes=2)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "BatchNorm" not in result.stderr

    one = load_checkpoint(last_checkpoint(one_dir))
    two = load_checkpoint(last_checkpoint(tmp_path / "ddp" / "train"))
    assert one["synthmphn"]["model_name"] == "synth-tiny-convnext-32" and two["synthmphn"]["step"] == 4
    for name, value in one["state_dict"].items():
        torch.testing.assert_close(two["state_dict"][name], value, rtol=1e-4, atol=1e-5, msg=name)


def test_batchnorm_on_cpu_processes_is_warned_and_synced_on_cuda_only(caplog) -> None:
    from synthmphn.models.factory import create_clip
    from synthmphn.train.distributed import DistInfo, batchnorm_layers, sync_batchnorm

    cnn = create_clip("synth-tiny-cnn-32").model
    assert batchnorm_layers(cnn) == 19 and batchnorm_layers(create_clip("synth-tiny-convnext-32").model) == 0
    caplog.clear()
    assert sync_batchnorm(cnn, DistInfo(), 8) is cnn and not caplog.text  # one process: nothing to do
    with caplog.at_level("WARNING"):
        assert sync_batchnorm(cnn, DistInfo(rank=0, world_size=2), 8) is cnn
    assert "19 BatchNorm layers and 2 CPU processes" in caplog.text and "4-sample share" in caplog.text
    assert "synth-tiny-convnext-32" in caplog.text
