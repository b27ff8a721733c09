"""The training checkpoint, both ways: what `save_training_checkpoint` writes `restore_training_state` reads."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tiny_run import tiny_config

from synthmphn.config import RunConfig
from synthmphn.data.sampler import GroupBatchSampler
from synthmphn.data.store import GroupStore
from synthmphn.models import create_clip, load_checkpoint
from synthmphn.train.checkpoints import (
    last_checkpoint,
    load_resume_checkpoint,
    restore_training_state,
    save_training_checkpoint,
    step_checkpoint,
)
from synthmphn.train.optim import create_optimizer


def training_objects(cfg: RunConfig, seed: int) -> tuple:
    """A fresh model (weights from `seed`), AdamW, grad scaler and sampler for `cfg`."""
    torch.manual_seed(seed)
    model = create_clip(cfg.train.model.name).model
    optimizer = create_optimizer(model, cfg.train.lr, cfg.train.weight_decay)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    groups = GroupStore(cfg.dataset_dir, "train").groups
    sampler = GroupBatchSampler(groups, 8, cfg.train.hn_schedule, total_steps=4, seed=cfg.seed)
    return model, optimizer, scaler, sampler


def test_save_then_restore_gives_back_every_piece(tiny_dataset: Path, tmp_path: Path) -> None:
    cfg = tiny_config(tmp_path, tiny_dataset)
    model, optimizer, scaler, sampler = training_objects(cfg, seed=1)
    model(torch.zeros(1, 3, 32, 32), torch.zeros(1, 32, dtype=torch.long))[0].sum().backward()
    optimizer.step()  # so the optimiser has moments to save
    rng = torch.get_rng_state()
    path = save_training_checkpoint(cfg, 3, model, optimizer, scaler, sampler, "f" * 64)
    assert path == step_checkpoint(cfg.train_dir, 3) and last_checkpoint(cfg.train_dir).is_file()
    saved = load_checkpoint(path)
    assert set(saved["synthmphn"]) == {
        "model_name", "step", "optimizer", "scaler", "sampler", "rng", "config", "dataset"
    }  # fmt: skip

    torch.manual_seed(99)  # another RNG position; restoring must put it back
    other, other_optimizer, other_scaler, other_sampler = training_objects(cfg, seed=2)
    restore_training_state(saved, other, other_optimizer, other_scaler, other_sampler)
    for name, value in model.state_dict().items():
        torch.testing.assert_close(other.state_dict()[name], value, msg=name)
    moments = [s["exp_avg"] for s in optimizer.state_dict()["state"].values()]
    restored = [s["exp_avg"] for s in other_optimizer.state_dict()["state"].values()]
    assert len(moments) == len(restored) > 0
    for a, b in zip(moments, restored, strict=True):
        torch.testing.assert_close(b, a)
    assert other_sampler.start_step == 3 * cfg.train.accum_steps
    assert torch.equal(torch.get_rng_state(), rng)


def test_resume_point_is_none_without_last_and_checked_with_it(tiny_dataset: Path, tmp_path: Path) -> None:
    cfg = tiny_config(tmp_path, tiny_dataset)
    assert load_resume_checkpoint(cfg, "f" * 64) is None
    model, optimizer, scaler, sampler = training_objects(cfg, seed=1)
    save_training_checkpoint(cfg, 2, model, optimizer, scaler, sampler, "f" * 64)
    assert load_resume_checkpoint(cfg, "f" * 64)["synthmphn"]["step"] == 2
    with pytest.raises(ValueError, match=r"cannot resume from .*last\.pt.*dataset"):
        load_resume_checkpoint(cfg, "0" * 64)
