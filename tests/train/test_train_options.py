"""Optimiser, LR schedule, precision and accumulation options, metric-log truncation."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from tiny_run import tiny_config
from torch import nn

from synthmphn.models import tiny_model_names
from synthmphn.models.checkpoint import load_checkpoint
from synthmphn.train.checkpoints import config_mismatches, last_checkpoint
from synthmphn.train.logging import read_metrics, truncate_metrics
from synthmphn.train.loop import run_training, total_steps
from synthmphn.train.optim import (
    MAX_LOGIT_SCALE,
    clamp_logit_scale,
    create_optimizer,
    init_logit_scale,
    lr_at,
)


def test_lr_warmup_then_cosine() -> None:
    assert [lr_at(k, 1.0, 4, 20) for k in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert lr_at(4, 1.0, 4, 20) == 1.0
    assert lr_at(12, 1.0, 4, 20) == pytest.approx(0.5)
    assert lr_at(19, 1.0, 4, 20) == pytest.approx(0.5 * (1 + math.cos(math.pi * 15 / 16)))
    assert lr_at(0, 2.0, 0, 10) == 2.0


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(3, 3)
        self.ln_final = nn.LayerNorm(3)
        self.logit_scale = nn.Parameter(torch.tensor(9.0))


def test_weight_decay_only_on_matrices() -> None:
    model = Tiny()
    undecayed, decayed = create_optimizer(model, 1e-3, 0.2).param_groups
    assert decayed["weight_decay"] == 0.2 and undecayed["weight_decay"] == 0.0
    assert [p.shape for p in decayed["params"]] == [torch.Size([3, 3])]
    assert len(undecayed["params"]) == 4  # bias, ln weight, ln bias, logit_scale
    clamp_logit_scale(model)
    assert float(model.logit_scale.detach()) == pytest.approx(MAX_LOGIT_SCALE)


def test_logit_scale_init_sets_the_starting_temperature(tiny_dataset: Path, tmp_path: Path) -> None:
    model = Tiny()
    before = float(model.logit_scale.detach())
    init_logit_scale(model, None)
    assert float(model.logit_scale.detach()) == before  # None keeps the model's own init
    cfg = tiny_config(tmp_path, tiny_dataset, steps=1, lr=1e-9, warmup_steps=0, logit_scale_init=30.0)
    state = load_checkpoint(last_checkpoint(run_training(cfg)))["state_dict"]
    assert float(state["logit_scale"].exp()) == pytest.approx(30.0, rel=1e-4)


def test_run_length_from_epochs(tiny_dataset: Path, tmp_path: Path) -> None:
    cfg = tiny_config(tmp_path, tiny_dataset, steps=None, epochs=2.5, accum_steps=2, batch_size=4)
    assert total_steps(cfg.train, 32) == 10  # 32 captions / (4 · 2) = 4 steps per epoch


def test_bf16_autocast_with_accumulation(tiny_dataset: Path, tmp_path: Path) -> None:
    cfg = tiny_config(
        tmp_path,
        tiny_dataset,
        precision="bf16",
        accum_steps=2,
        steps=2,
        batch_size=4,
        loss="clip",
        images_per_caption=1,
        grad_clip=None,
    )
    train_dir = run_training(cfg)
    state = load_checkpoint(last_checkpoint(train_dir))["synthmphn"]
    assert state["step"] == 2 and state["sampler"]["step"] == 4  # two micro-batches per step
    assert all(
        math.isfinite(r["loss"]) and r["samples_per_s"] > 0 for r in read_metrics(train_dir / "metrics.jsonl")
    )


def test_fp16_autocast_uses_a_grad_scaler(tiny_dataset: Path, tmp_path: Path) -> None:
    sigmoid_model = next(name for name in tiny_model_names() if name.startswith("synth-tiny-sig"))
    cfg = tiny_config(
        tmp_path, tiny_dataset, precision="fp16", steps=1, loss="siglip", model={"name": sigmoid_model}
    )
    train_dir = run_training(cfg)
    assert load_checkpoint(last_checkpoint(train_dir))["synthmphn"]["scaler"]["scale"] > 0


def test_metrics_after_the_resume_step_are_dropped(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1, "loss": 3}\n{"step": 2, "loss": 2}\n{"step": 3, "loss": 1}\n{"step": 4, "lo')
    truncate_metrics(path, 2)
    assert read_metrics(path) == [{"step": 1, "loss": 3}, {"step": 2, "loss": 2}]


def test_resume_free_fields_are_ignored() -> None:
    saved = {"seed": 0, "train": {"lr": 1.0, "steps": 10, "workers": 1, "hn_schedule": {"name": "linear"}}}
    now = {"seed": 1, "train": {"lr": 1.0, "steps": 20, "workers": 4, "hn_schedule": {"name": "cosine"}}}
    assert config_mismatches(saved, now) == [
        "seed: was 0, now 1",
        "train.hn_schedule.name: was 'linear', now 'cosine'",
    ]
