"""Training checkpoints: where they live, what they hold, and when a resume is allowed.

    <train_dir>/checkpoints/step_0000200.pt   every train.checkpoint_every steps and at the end (last 2 kept)
    <train_dir>/checkpoints/last.pt           the newest one (a hard link, or a copy where links fail)

The whole checkpoint is built in `save_training_checkpoint` and read back in `restore_training_state`
(nanoGPT style: one place names every piece, both ways):

    {"state_dict": <weights, no DDP prefix>,                 what open_clip's pretrained= loads
     "synthmphn": {"model_name", "step", "optimizer", "scaler", "sampler", "rng": {"torch"},
                   "config": {"seed", "train"},               what a resume must match (`check_resume`)
                   "dataset": <sha256 of manifest.jsonl>}}

The envelope (the "state_dict" / "synthmphn" keys, the weights_only=True rule, the atomic write) is the file
format of `models.checkpoint`, beside its reader, because eval and recaption read these files without
importing train. Writes are atomic, so a crash leaves the previous last.pt intact.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from synthmphn.config import RunConfig, config_to_dict, identity_differences, identity_of
from synthmphn.data.manifest import MANIFEST_NAME
from synthmphn.data.sampler import GroupBatchSampler
from synthmphn.models.checkpoint import load_checkpoint, save_checkpoint, unwrap_model

CHECKPOINT_DIR = "checkpoints"
LAST_NAME = "last.pt"
KEEP_STEP_FILES = 2


def checkpoint_dir(train_dir: Path) -> Path:
    """`<train_dir>/checkpoints`."""
    return train_dir / CHECKPOINT_DIR


def last_checkpoint(train_dir: Path) -> Path:
    """`<train_dir>/checkpoints/last.pt` (it may not exist)."""
    return checkpoint_dir(train_dir) / LAST_NAME


def step_checkpoint(train_dir: Path, step: int) -> Path:
    """`<train_dir>/checkpoints/step_{step:07d}.pt`."""
    return checkpoint_dir(train_dir) / f"step_{step:07d}.pt"


def dataset_fingerprint(dataset_dir: Path) -> str:
    """sha256 of the dataset's manifest.jsonl (which lists every shard's sha256): same data, same print."""
    return hashlib.sha256((dataset_dir / MANIFEST_NAME).read_bytes()).hexdigest()


def resume_config(cfg: RunConfig) -> dict[str, Any]:
    """What a checkpoint records of the config: the seed and the resolved train section."""
    return {"seed": cfg.seed, "train": config_to_dict(cfg.train)}


def config_mismatches(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """'field: was X, now Y' for every field of the two recorded configs' train identities that differs.

    A resume may change only the fields `config` marks output-neutral (length, logging, workers, device...).
    """
    return identity_differences(identity_of(saved, "train"), identity_of(current, "train"))


def check_resume(path: Path, state: dict[str, Any], cfg: RunConfig, fingerprint: str) -> None:
    """Raises ValueError naming every mismatching field when `state` comes from another config or dataset."""
    problems = config_mismatches(state.get("config", {}), resume_config(cfg))
    if state.get("dataset") != fingerprint:
        problems.append(
            f"dataset ({cfg.dataset_dir}/{MANIFEST_NAME}): checkpoint sha256 "
            f"{str(state.get('dataset'))[:12]}... vs now {fingerprint[:12]}..."
        )
    if problems:
        raise ValueError(
            f"cannot resume from {path}: it was trained with a different config or dataset:\n  "
            + "\n  ".join(problems)
            + "\nrestore those settings, or start over with --overwrite (instead of --resume)"
        )


def link_as_last(step_file: Path) -> Path:
    """Points last.pt at `step_file` atomically (hard link, or copy when the filesystem refuses links)."""
    last = step_file.parent / LAST_NAME
    fd, tmp = tempfile.mkstemp(prefix=f".{LAST_NAME}.", suffix=".tmp", dir=step_file.parent)
    os.close(fd)
    os.unlink(tmp)
    try:
        os.link(step_file, tmp)
    except OSError:
        shutil.copyfile(step_file, tmp)
    os.replace(tmp, last)
    return last


def prune_step_files(train_dir: Path, keep: int = KEEP_STEP_FILES) -> None:
    """Deletes all but the newest `keep` step_*.pt files (last.pt is a separate link and stays)."""
    files = sorted(checkpoint_dir(train_dir).glob("step_*.pt"))
    for path in files[:-keep] if keep > 0 else files:
        path.unlink(missing_ok=True)


def checkpoint_files(train_dir: Path) -> list[Path]:
    """The step files and last.pt of a run folder (empty when it has none)."""
    folder = checkpoint_dir(train_dir)
    return sorted([*folder.glob("step_*.pt"), *folder.glob(LAST_NAME)]) if folder.is_dir() else []


def discard_replaced(replaced: list[Path], kept: Path) -> None:
    """Deletes a replaced run's checkpoint files once `kept` (the new run's first checkpoint) is written.

    `kept` and last.pt (now pointing at `kept`) stay; a step file of the same name was already replaced.
    """
    for path in replaced:
        if path != kept and path.name != LAST_NAME:
            path.unlink(missing_ok=True)


# ----------------------------------------------------------------------------- the checkpoint, both ways


def save_training_checkpoint(
    cfg: RunConfig,
    step: int,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    sampler: GroupBatchSampler,
    fingerprint: str,
) -> Path:
    """Writes step_{step}.pt atomically, points last.pt at it and keeps the last two step files."""
    state = {
        "step": step,
        "optimizer": optimizer.state_dict(),
        "scaler": scaler.state_dict(),
        "sampler": sampler.state_dict(step * cfg.train.accum_steps),  # it counts micro-batches
        "rng": {"torch": torch.get_rng_state()},
        "config": resume_config(cfg),
        "dataset": fingerprint,
    }
    # {"state_dict": the unwrapped weights, "synthmphn": {"model_name": ..., **state}}
    path = save_checkpoint(step_checkpoint(cfg.train_dir, step), unwrap_model(model), state)
    link_as_last(path)
    prune_step_files(cfg.train_dir)
    return path


def load_resume_checkpoint(cfg: RunConfig, fingerprint: str) -> dict[str, Any] | None:
    """`<train_dir>/checkpoints/last.pt` once `check_resume` accepts it, or None when there is none yet."""
    path = last_checkpoint(cfg.train_dir)
    if not path.exists():
        return None
    checkpoint = load_checkpoint(path)
    check_resume(path, checkpoint["synthmphn"], cfg, fingerprint)
    return checkpoint


def restore_training_state(
    checkpoint: dict[str, Any],
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    sampler: GroupBatchSampler,
) -> None:
    """Loads what `save_training_checkpoint` wrote: weights, optimiser, scaler, sampler position, RNG."""
    state = checkpoint["synthmphn"]
    model.load_state_dict(checkpoint["state_dict"])
    optimizer.load_state_dict(state["optimizer"])
    if state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    sampler.load_state_dict(state["sampler"])
    torch.set_rng_state(state["rng"]["torch"])
