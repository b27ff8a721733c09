"""Item 1 (data lost): `train` on a finished run never loses its model before a new one replaces it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from faults import cli, one_line_error, write_run_config
from tiny_run import tiny_config

from synthmphn.models.checkpoint import load_checkpoint
from synthmphn.train import loop
from synthmphn.train.checkpoints import last_checkpoint
from synthmphn.train.loop import run_training


class Kill(Exception):
    """Stands for kill -9 in the middle of a run."""


def snapshot(run: Path) -> dict[str, str]:
    """sha256 of every checkpoint file of a run."""
    folder = run / "train" / "checkpoints"
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_rerun_without_resume_is_refused_and_keeps_every_checkpoint(
    finished_run: Path, pristine_dataset: Path
) -> None:
    before = snapshot(finished_run)
    config = write_run_config(finished_run, pristine_dataset)
    line = one_line_error(cli("train", config, "train.lr=0.002"))
    assert f"{finished_run / 'train'}: holds a trained run (3 checkpoint file(s) in checkpoints/)" in line
    assert "continue it with --resume, or start over with --overwrite" in line
    assert snapshot(finished_run) == before


def test_the_catalogue_case_a_bad_pairing_on_a_finished_run_is_refused_first(
    finished_run: Path, pristine_dataset: Path
) -> None:
    before = snapshot(finished_run)
    config = write_run_config(finished_run, pristine_dataset)
    line = one_line_error(cli("train", config, "train.loss=siglip", "train.model.name=synth-tiny-cnn-32"))
    assert "train.loss='siglip' needs a model with a learnable logit bias" in line
    assert snapshot(finished_run) == before


def test_overwrite_with_a_loss_the_model_cannot_use_is_refused_before_any_file_changes(
    finished_run: Path, pristine_dataset: Path
) -> None:
    before = snapshot(finished_run)
    metrics = (finished_run / "train" / "metrics.jsonl").read_bytes()
    config = write_run_config(finished_run, pristine_dataset)
    result = cli("train", config, "train.loss=siglip", "train.model.name=synth-tiny-cnn-32", "--overwrite")
    line = one_line_error(result)
    assert "train.loss='siglip' needs a model with a learnable logit bias" in line
    assert "train.model.name='synth-tiny-cnn-32'" in line
    assert snapshot(finished_run) == before
    assert (finished_run / "train" / "metrics.jsonl").read_bytes() == metrics


def test_an_overwrite_killed_before_its_first_checkpoint_keeps_the_old_model(
    finished_run: Path, pristine_dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(finished_run)
    original = loop.train_step

    def killed_at_step_3(*args, step: int, **kwargs):  # type: ignore[no-untyped-def]
        if step == 3:
            raise Kill
        return original(*args, step=step, **kwargs)

    monkeypatch.setattr(loop, "train_step", killed_at_step_3)
    cfg = tiny_config(finished_run, pristine_dataset, steps=8, checkpoint_every=4)
    with pytest.raises(Kill):
        run_training(cfg, overwrite=True)
    assert snapshot(finished_run) == before  # last.pt and both step files of the old run
    assert load_checkpoint(last_checkpoint(finished_run / "train"))["synthmphn"]["step"] == 4


def test_overwrite_replaces_the_old_checkpoints_at_its_first_checkpoint(
    finished_run: Path, pristine_dataset: Path
) -> None:
    # the old run kept step 2 and 4; the new one checkpoints every 3 of 6 steps
    cfg = tiny_config(finished_run, pristine_dataset, steps=6, checkpoint_every=3, lr=2e-3)
    run_training(cfg, overwrite=True)
    folder = finished_run / "train" / "checkpoints"
    assert sorted(p.name for p in folder.iterdir()) == ["last.pt", "step_0000003.pt", "step_0000006.pt"]
    state = load_checkpoint(folder / "last.pt")["synthmphn"]
    assert state["step"] == 6 and state["config"]["train"]["lr"] == 2e-3


def test_resume_and_overwrite_together_are_refused(finished_run: Path, pristine_dataset: Path) -> None:
    config = write_run_config(finished_run, pristine_dataset)
    line = one_line_error(cli("train", config, "--resume", "--overwrite"))
    assert "--resume or --overwrite, not both" in line
