"""What `train` checks before it writes anything, and how it claims its run folder.

A training run is refused, with one line naming the field or folder, before any file of the run folder
changes when (`check_train_config` runs the checks that need neither data nor a model, so an experiment
grid can check every cell before it trains any):
    the data cannot feed the objective          `check_training_data` (negatives, images per caption, schedule)
    the objective cannot use the model          `check_loss_fits_model` (siglip needs a logit bias)
    train.device names a GPU this machine lacks `check_device`
    the folder holds a run and neither --resume nor --overwrite was given   `check_fresh_start`

While it trains, a run holds `<train_dir>/.train.lock` (`train_lock`): a second `train` of the same folder
waits for the first instead of interleaving metrics and checkpoints. Under the lock, temp files a killed
run left (a checkpoint torn by kill -9) are deleted (`remove_stale_train_files`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import open_clip
import torch
from torch import nn

from synthmphn.config import RunConfig, TrainConfig
from synthmphn.data.batches import check_images_per_caption, check_negatives, has_negatives
from synthmphn.data.records import Group
from synthmphn.data.schedules import HN_SCHEDULES, max_pairs
from synthmphn.io import folder_lock, remove_stale_temp_files
from synthmphn.losses import create_loss
from synthmphn.losses.base import ContrastiveLoss
from synthmphn.models.factory import check_model_name
from synthmphn.train.checkpoints import CHECKPOINT_DIR, checkpoint_files

TRAIN_LOCK = ".train.lock"
STALE_TEMP_PATTERNS = (f"{CHECKPOINT_DIR}/.*.pt.*.tmp", ".*.jsonl.*.tmp", ".*.json.*.tmp", ".*.yaml.*.tmp")
"""Atomic-write temp files (io.atomic_open, checkpoints.link_as_last) a killed run can leave."""


def check_training_data(groups: list[Group], cfg: RunConfig, loss_cls: type[ContrastiveLoss]) -> bool:
    """Fails with a clear ValueError when the data cannot feed the objective; returns whether to use negatives."""
    tc = cfg.train
    HN_SCHEDULES.get(tc.hn_schedule.name)
    check_negatives(groups, tc.loss, loss_cls.needs_negatives, cfg.dataset_dir)
    negatives = has_negatives(groups)
    check_images_per_caption(groups, tc.images_per_caption, negatives)
    if loss_cls.needs_negatives and max_pairs(tc.hn_schedule, tc.batch_size) == 0:
        raise ValueError(_never_pairs(tc))
    return negatives


def check_loss_fits_model(tc: TrainConfig, loss_cls: type[ContrastiveLoss], model: nn.Module) -> None:
    """Raises ValueError naming train.loss and train.model.name when the loss needs a part the model lacks."""
    if loss_cls.needs_logit_bias and getattr(model, "logit_bias", None) is None:
        raise ValueError(_no_logit_bias(tc))


def _no_logit_bias(tc: TrainConfig) -> str:
    return (
        f"train.loss={tc.loss!r} needs a model with a learnable logit bias, but "
        f"train.model.name={tc.model.name!r} has none; use a model whose config sets init_logit_bias "
        "(e.g. synth-tiny-sigmoid) or another loss"
    )


def check_train_config(cfg: RunConfig, data_from_config: bool = False) -> None:
    """The checks of `cfg.train` that need neither data nor a model (milliseconds).

    Names of the loss (and its options), HN schedule and model; the loss against the model's open_clip
    config; the device; a HN loss with a schedule that never pairs. With `data_from_config` (the dataset is
    the one `cfg` builds, as in experiment grids) also a HN loss on captions without negatives.
    Raises KeyError (unknown names, listing the known ones) or ValueError naming the field.
    """
    tc = cfg.train
    loss_cls = type(create_loss(tc.loss, **tc.loss_options))
    HN_SCHEDULES.get(tc.hn_schedule.name)
    check_model_name(tc.model.name)
    model_config = open_clip.get_model_config(tc.model.name.replace("/", "-")) or {}
    if loss_cls.needs_logit_bias and model_config and model_config.get("init_logit_bias") is None:
        raise ValueError(_no_logit_bias(tc))
    check_device(tc.device)
    if loss_cls.needs_negatives and max_pairs(tc.hn_schedule, tc.batch_size) == 0:
        raise ValueError(_never_pairs(tc))
    if data_from_config and loss_cls.needs_negatives and cfg.captions.negatives_per_caption == 0:
        raise ValueError(
            f"train.loss={tc.loss!r} needs hard negatives, but captions.negatives_per_caption=0 builds none; "
            "set captions.negatives_per_caption >= 1 or choose a loss without negatives"
        )


def _never_pairs(tc: TrainConfig) -> str:
    return (
        f"train.loss={tc.loss!r} needs base+HN pairs, but train.hn_schedule (name={tc.hn_schedule.name!r}, "
        f"p_max={tc.hn_schedule.p_max}) never puts a pair in a batch of {tc.batch_size}; raise p_max"
    )


def check_device(device: str, field: str = "train.device") -> None:
    """Raises ValueError naming `field` when `device` is a CUDA device this machine does not have."""
    if not device.startswith("cuda"):
        return
    if not torch.cuda.is_available():
        raise ValueError(
            f"{field}={device!r}: no CUDA GPU is usable here (torch.cuda.is_available() is False); "
            f"set {field}=cpu"
        )
    index = device.partition(":")[2]
    count = torch.cuda.device_count()
    if index and (not index.isdigit() or int(index) >= count):
        raise ValueError(
            f"{field}={device!r}: this machine has {count} CUDA GPU(s) (cuda:0 to cuda:{count - 1}); "
            f"choose one of them"
        )


def check_fresh_start(train_dir: Path, resume: bool, overwrite: bool) -> list[Path]:
    """The checkpoint files a fresh run will replace; refuses (ValueError) to replace any without --overwrite.

    With --resume nothing is refused here (a run without last.pt starts fresh). The files returned are
    deleted only once the new run has written its first checkpoint, so a new run that fails or is killed
    early leaves the old model in place.
    """
    existing = checkpoint_files(train_dir)
    if existing and not resume and not overwrite:
        raise ValueError(
            f"{train_dir}: holds a trained run ({len(existing)} checkpoint file(s) in {CHECKPOINT_DIR}/); "
            "continue it with --resume, or start over with --overwrite"
        )
    return existing


@contextlib.contextmanager
def train_lock(train_dir: Path, enabled: bool = True) -> Iterator[None]:
    """Holds `<train_dir>/.train.lock` (only rank 0 takes it: other ranks work for the same run)."""
    if not enabled:
        yield
        return
    with folder_lock(train_dir, TRAIN_LOCK, "train"):
        yield


def remove_stale_train_files(train_dir: Path) -> list[Path]:
    """Deletes temp files of atomic writes a killed run never renamed (call with the lock held)."""
    return [path for pattern in STALE_TEMP_PATTERNS for path in remove_stale_temp_files(train_dir, pattern)]
