"""`train.precision: auto` resolves to the precision the hardware runs natively, and the run records it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
import yaml
from tiny_run import tiny_config

from synthmphn.train import precision as precision_mod
from synthmphn.train.loop import run_training
from synthmphn.train.precision import resolve_precision


@pytest.mark.parametrize(("native", "expected"), [(True, "bf16"), (False, "fp32")])
def test_auto_follows_native_bf16(monkeypatch: pytest.MonkeyPatch, native: bool, expected: str) -> None:
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: native)
    assert resolve_precision("auto", "cpu") == expected
    assert resolve_precision("fp32", "cpu") == "fp32"  # explicit values are never changed
    assert resolve_precision("bf16", "cpu") == "bf16"


def test_explicit_bf16_on_a_cpu_without_it_warns(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    with caplog.at_level(logging.WARNING, logger="synthmphn.train"):
        resolve_precision("bf16", "cpu")
    assert "train.precision=auto" in caplog.text and "without native bf16" in caplog.text
    caplog.clear()
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)
    with caplog.at_level(logging.WARNING, logger="synthmphn.train"):
        resolve_precision("bf16", "cpu")
    assert caplog.text == ""


def test_the_run_records_the_resolved_precision(tiny_dataset: Path, tmp_path: Path) -> None:
    cfg = tiny_config(tmp_path, tiny_dataset, precision="auto", steps=1)
    train_dir = run_training(cfg)
    written = yaml.safe_load((train_dir / "config.yaml").read_text())["train"]["precision"]
    assert written == ("bf16" if precision_mod.native_bf16("cpu") else "fp32")
