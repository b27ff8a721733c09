"""The training loop: exact resume, checkpoints open_clip loads, logs, the NaN guard and bad input."""

from __future__ import annotations

import json
import time
from pathlib import Path

import open_clip
import pytest
import torch
import yaml
from tiny_run import tiny_config

import synthmphn.models  # noqa: F401 - registers the tiny configs with open_clip
from synthmphn.models.checkpoint import load_checkpoint
from synthmphn.train import loop
from synthmphn.train.checkpoints import last_checkpoint
from synthmphn.train.logging import read_metrics
from synthmphn.train.loop import run_training


class Crash(Exception):
    """Stands for a killed process."""


def weights(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path)["state_dict"]


def test_resume_after_a_crash_equals_an_uninterrupted_run(
    finished_run: Path, tiny_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = loop.save_training_checkpoint

    def save_then_crash(cfg, step, *args):  # type: ignore[no-untyped-def]
        path = original(cfg, step, *args)
        if step == 2:
            raise Crash
        return path

    monkeypatch.setattr(loop, "save_training_checkpoint", save_then_crash)
    with pytest.raises(Crash):
        run_training(tiny_config(tmp_path, tiny_dataset))
    monkeypatch.setattr(loop, "save_training_checkpoint", original)
    assert load_checkpoint(last_checkpoint(tmp_path / "train"))["synthmphn"]["step"] == 2
    # train.workers may change on a resume (here unused: the tiny split is held in memory)
    resumed = run_training(tiny_config(tmp_path, tiny_dataset, workers=1), resume=True)

    a, b = weights(last_checkpoint(finished_run)), weights(last_checkpoint(resumed))
    for name in a:
        torch.testing.assert_close(b[name], a[name], rtol=1e-5, atol=1e-6, msg=name)
    log_a, log_b = read_metrics(finished_run / "metrics.jsonl"), read_metrics(resumed / "metrics.jsonl")
    assert [r["step"] for r in log_b] == [1, 2, 3, 4]
    assert [r["loss"] for r in log_b] == pytest.approx([r["loss"] for r in log_a], rel=1e-5)


def test_resume_with_augmentation_from_memory_equals_an_uninterrupted_run(
    tiny_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each caption's crop boxes are seeded by (seed, step, caption), so a resume redraws the same crops."""
    settings = {"augment": True, "loader": "memory"}
    whole = run_training(tiny_config(tmp_path / "whole", tiny_dataset, **settings))
    original = loop.save_training_checkpoint

    def save_then_crash(cfg, step, *args):  # type: ignore[no-untyped-def]
        path = original(cfg, step, *args)
        if step == 2:
            raise Crash
        return path

    monkeypatch.setattr(loop, "save_training_checkpoint", save_then_crash)
    with pytest.raises(Crash):
        run_training(tiny_config(tmp_path / "split", tiny_dataset, **settings))
    monkeypatch.setattr(loop, "save_training_checkpoint", original)
    resumed = run_training(tiny_config(tmp_path / "split", tiny_dataset, **settings), resume=True)
    a, b = weights(last_checkpoint(whole)), weights(last_checkpoint(resumed))
    for name in a:
        assert torch.equal(b[name], a[name]), name


def test_run_folder_holds_checkpoints_logs_and_provenance(finished_run: Path) -> None:
    names = sorted(p.name for p in (finished_run / "checkpoints").iterdir())
    assert names == ["last.pt", "step_0000002.pt", "step_0000004.pt"]
    state = load_checkpoint(last_checkpoint(finished_run))["synthmphn"]
    assert state["step"] == 4 and state["model_name"] == "synth-tiny-vit"
    assert state["sampler"]["step"] == 4 and state["config"]["train"]["loss"] == "mpclip"
    assert set(state) >= {"optimizer", "scaler", "rng", "dataset"}
    records = read_metrics(finished_run / "metrics.jsonl")
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    assert {"loss", "loss_i2t", "lr", "hn_fraction", "samples_per_s", "grad_norm", "logit_scale"} <= set(
        records[0]
    )
    assert list((finished_run / "tensorboard").glob("events.out.tfevents.*"))
    info = json.loads((finished_run / "run_info.json").read_text())
    assert info["stage"] == "train" and "torch" in info["versions"] and "git_commit" in info
    assert yaml.safe_load((finished_run / "config.yaml").read_text())["train"]["batch_size"] == 8


def test_open_clip_loads_the_checkpoint(finished_run: Path) -> None:
    path = last_checkpoint(finished_run)
    model, _, _ = open_clip.create_model_and_transforms("synth-tiny-vit", pretrained=str(path))
    saved = weights(path)
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, saved[name])


def test_finished_run_returns_at_once(finished_run: Path, tiny_dataset: Path) -> None:
    before = last_checkpoint(finished_run).stat().st_mtime_ns
    start = time.perf_counter()
    assert (
        run_training(tiny_config(finished_run.parent, tiny_dataset, workers=2), resume=True) == finished_run
    )
    assert time.perf_counter() - start < 5
    assert last_checkpoint(finished_run).stat().st_mtime_ns == before


def test_resume_with_another_config_names_the_fields(finished_run: Path, tiny_dataset: Path) -> None:
    cfg = tiny_config(finished_run.parent, tiny_dataset, lr=2e-3, images_per_caption=1, steps=8)
    with pytest.raises(ValueError, match="different config") as err:
        run_training(cfg, resume=True)
    assert "train.lr: was 0.001, now 0.002" in str(err.value)
    assert "train.images_per_caption" in str(err.value) and "train.steps" not in str(err.value)


def test_nan_guard_stops_and_keeps_the_last_good_checkpoint(tiny_dataset: Path, tmp_path: Path) -> None:
    cfg = tiny_config(tmp_path, tiny_dataset, lr=1e30, warmup_steps=0, grad_clip=None, checkpoint_every=1)
    with pytest.raises(RuntimeError, match=r"not finite at step (\d+) \(loss=nan") as err:
        run_training(cfg)
    failed = int(err.value.args[0].split("at step ")[1].split()[0])
    checkpoint = load_checkpoint(last_checkpoint(tmp_path / "train"))
    assert checkpoint["synthmphn"]["step"] == failed - 1
    assert all(bool(torch.isfinite(v).all()) for v in checkpoint["state_dict"].values())


def test_hn_loss_on_a_dataset_without_negatives(tiny_dataset_no_negatives: Path, tmp_path: Path) -> None:
    cfg = tiny_config(tmp_path, tiny_dataset_no_negatives, loss="tripletclip-sym")
    with pytest.raises(ValueError, match=f"tripletclip-sym.*{tiny_dataset_no_negatives}"):
        run_training(cfg)


def test_more_images_per_caption_than_stored(tiny_dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"train.images_per_caption=3 but .* only 2 image"):
        run_training(tiny_config(tmp_path, tiny_dataset, images_per_caption=3))


def test_hn_loss_with_a_schedule_that_never_pairs(tiny_dataset: Path, tmp_path: Path) -> None:
    cfg = tiny_config(tmp_path, tiny_dataset, loss="negclip", hn_schedule={"name": "none"})
    with pytest.raises(ValueError, match="never puts a pair"):
        run_training(cfg)
