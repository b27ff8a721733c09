"""`synthmphn train CONFIG [--resume]`: train an open_clip model on a built SynthMPHN dataset.

One readable loop (read `run_training` top to bottom):

    data      GroupStore (train split) -> GroupBatchSampler (⌊p(t)·B⌋ base+HN pairs) -> m images per caption
              gathered from the split decoded in memory, or decoded by DataLoader workers -> TrainBatch
    model     create_clip(train.model) ; loss = create_loss(train.loss, **train.loss_options)
    optimiser AdamW (open_clip's decay rule), warm-up + cosine LR, grad clipping, bf16/fp16 autocast,
              train.accum_steps micro-batches per optimiser step (each micro-batch is a full contrastive
              batch of B captions; the optimiser sees A·B captions per step)
    state     checkpoints every train.checkpoint_every steps and at the end (atomic; last 2 kept + last.pt);
              --resume continues bit-for-bit from last.pt (same config except run length / logging / workers)
    guard     a non-finite loss or gradient norm stops the run, naming the step and the loss components;
              last.pt stays the last good checkpoint
    logs      metrics.jsonl + TensorBoard + a progress bar with samples/s; config.yaml and run_info.json

Under torchrun every rank loads its block of each global batch; the loss gathers all ranks' features, so
W processes reproduce one process's updates (see `train.distributed`). Only rank 0 writes files.
"""

from __future__ import annotations

import logging
import math
import shutil
from collections.abc import Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from synthmphn.config import RunConfig, TrainConfig, config_to_dict
from synthmphn.cpus import usable_cpus
from synthmphn.data.batches import TrainBatch, next_batch
from synthmphn.data.sampler import GroupBatchSampler
from synthmphn.data.schedules import hn_fraction_at
from synthmphn.data.store import GroupStore
from synthmphn.losses import create_loss
from synthmphn.losses.base import ContrastiveBatch, ContrastiveLoss
from synthmphn.losses.distributed import gather_batch
from synthmphn.models.checkpoint import unwrap_model
from synthmphn.models.factory import attention_backend, create_clip, to_channels_last
from synthmphn.models.gemm_conv import use_gemm_convs
from synthmphn.models.text_trim import clip_forward
from synthmphn.progress import progress
from synthmphn.provenance import write_run_info
from synthmphn.train.allocator import keep_freed_memory
from synthmphn.train.checkpoints import (
    dataset_fingerprint,
    discard_replaced,
    load_resume_checkpoint,
    restore_training_state,
    save_training_checkpoint,
)
from synthmphn.train.distributed import DistInfo, cleanup_distributed, init_distributed, sync_batchnorm
from synthmphn.train.hardness import HardnessCurriculum
from synthmphn.train.loader import training_batches
from synthmphn.train.logging import TENSORBOARD_DIR, MetricsLogger, Throughput
from synthmphn.train.optim import (
    clamp_logit_scale,
    clipped_update,
    create_optimizer,
    init_logit_scale,
    lr_at,
    set_lr,
    total_grad_norm,
)
from synthmphn.train.precision import with_resolved_precision
from synthmphn.train.preflight import (
    check_fresh_start,
    check_loss_fits_model,
    check_train_config,
    check_training_data,
    remove_stale_train_files,
    train_lock,
)
from synthmphn.train.row_grads import RowGrads

log = logging.getLogger("synthmphn.train")

AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class NonFiniteError(RuntimeError):
    """The loss or gradient norm became NaN/inf; the message names the step and the loss components."""


def run_training(cfg: RunConfig, resume: bool = False, overwrite: bool = False) -> Path:
    """Trains per `cfg.train` on `cfg.dataset_dir`; returns the train folder (`cfg.train_dir`).

    With `resume`, continues from `<train_dir>/checkpoints/last.pt` when it exists (a fresh start otherwise);
    a finished run returns at once. A folder that holds checkpoints is refused without `resume` or
    `overwrite`; with `overwrite` the old checkpoints stay until the new run writes its first. Everything
    (data, loss, model, device, folder) is checked before a file changes (see `train.preflight`).
    Raises ValueError for unusable data/config (naming the field), OSError naming an unwritable path,
    NonFiniteError (a RuntimeError) when the loss diverges.
    """
    check_train_config(cfg)  # names, loss vs model config, device: before reading any data
    dist = init_distributed(cfg.train.device)
    try:
        return _train(with_resolved_precision(cfg, dist.device), resume, overwrite, dist)
    finally:
        cleanup_distributed(dist)


def _train(cfg: RunConfig, resume: bool, overwrite: bool, dist: DistInfo) -> Path:
    tc, train_dir = cfg.train, cfg.train_dir
    torch.set_num_threads(tc.threads or max(1, usable_cpus() // dist.local_world_size))
    keep_freed_memory()  # each step re-allocates what the last freed: no fresh pages (train/allocator.py)

    # ---------------------------------------------------------------- data and run length
    store = GroupStore(cfg.dataset_dir, "train")  # checks every shard's sha256 against the manifest
    loss_fn = create_loss(tc.loss, **tc.loss_options)  # unknown names/options fail here, before any work
    hardness = HardnessCurriculum(loss_fn, tc)  # so does a train.hn_beta the loss cannot use
    negatives = check_training_data(store.groups, cfg, type(loss_fn))
    fingerprint = dataset_fingerprint(cfg.dataset_dir)
    total = total_steps(tc, GroupBatchSampler.count_captions(store.groups, negatives))
    # the sampler counts micro-batches: accum_steps of them per optimiser step
    sampler = GroupBatchSampler(
        store.groups,
        batch_size=tc.batch_size,
        schedule=tc.hn_schedule,
        total_steps=total * tc.accum_steps,
        seed=cfg.seed,
        negatives=negatives,
        rank=dist.rank,
        world_size=dist.world_size,
    )
    with train_lock(train_dir, enabled=dist.is_main):
        if dist.is_main:
            remove_stale_train_files(train_dir)
        # ------------------------------------------------------------ resume point
        step, replaced = 0, []
        checkpoint = load_resume_checkpoint(cfg, fingerprint) if resume else None
        if checkpoint is not None:
            step = int(checkpoint["synthmphn"]["step"])
            if step >= total:
                log.info("%s: already trained %d of %d steps", train_dir, step, total)
                return train_dir
        else:
            replaced = check_fresh_start(train_dir, resume, overwrite)

        # ------------------------------------------------------------ model, loss, optimiser
        torch.manual_seed(cfg.seed)
        parts = create_clip(tc.model.name, tc.model.pretrained, device=dist.device, augment=tc.augment)
        check_loss_fits_model(tc, type(loss_fn), parts.model)  # before a file of the run changes
        init_logit_scale(parts.model, tc.logit_scale_init)
        if checkpoint is None and dist.is_main:
            start_fresh(train_dir, replaced)
        model = use_gemm_convs(to_channels_last(parts.model))
        if tc.compile:
            model.compile(dynamic=False)  # in place: state_dict keys and checkpoints stay as they are
        loss_fn = loss_fn.to(dist.device)
        optimizer = create_optimizer(model, tc.lr, tc.weight_decay)
        scaler = torch.amp.GradScaler(device_type(dist.device), enabled=tc.precision == "fp16")
        if checkpoint is not None:
            restore_training_state(checkpoint, model, optimizer, scaler, sampler)
        model = sync_batchnorm(model, dist, tc.batch_size)
        if dist.distributed:
            model = DistributedDataParallel(
                model, device_ids=[dist.local_rank] if "cuda" in dist.device else None
            )

        # ------------------------------------------------------------ batches (in memory or in workers)
        batches = training_batches(tc, store, parts, sampler, cfg.seed, dist.device)
        # torch's dense embedding backward unless one eager process (train/row_grads.py)
        row_grads = None if tc.compile or dist.distributed else RowGrads(model)
        state = _LoopState(step, replaced, total, hardness, row_grads)
        _loop(cfg, dist, state, model, loss_fn, optimizer, scaler, sampler, batches, fingerprint)
    return train_dir


@dataclass
class _LoopState:
    """Where the loop stands: optimiser steps done, checkpoint files still to replace, run length."""

    step: int
    replaced: list[Path]
    total: int
    hardness: HardnessCurriculum  # β(t) of a hardness-weighted loss
    row_grads: RowGrads | None = None  # the embeddings' gradient buffers, if sparse


def _loop(
    cfg: RunConfig,
    dist: DistInfo,
    state: _LoopState,
    model: nn.Module,
    loss_fn: ContrastiveLoss,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    sampler: GroupBatchSampler,
    source: Iterable[TrainBatch],
    fingerprint: str,
) -> None:
    """Optimiser steps from `state.step` to `state.total`, logging and checkpointing as configured."""
    tc, train_dir, total, hardness = cfg.train, cfg.train_dir, state.total, state.hardness
    logger = MetricsLogger(train_dir, resume_step=state.step, enabled=dist.is_main)
    if dist.is_main:
        write_run_info(train_dir, config_to_dict(cfg), cfg.seed, "train")
    bar = progress(total=total, initial=state.step, desc="train", unit="step") if dist.is_main else None
    meter = Throughput(tc.batch_size * tc.accum_steps)
    batches: Iterator[TrainBatch] = iter(source)
    try:
        while state.step < total:
            step = state.step
            lr = lr_at(step, tc.lr, tc.warmup_steps, total)
            set_lr(optimizer, lr)
            with meter.waiting():
                micro_batches = [next_batch(batches) for _ in range(tc.accum_steps)]
            beta = hardness.at(step / total)  # β(t) at the progress of this step's batches, like p(t)
            metrics = train_step(
                model,
                loss_fn,
                optimizer,
                scaler,
                micro_batches,
                precision=tc.precision,
                grad_clip=tc.grad_clip,
                step=step + 1,
                device=dist.device,
                row_grads=state.row_grads,
            )
            step = state.step = step + 1
            meter.count_step()
            if step % tc.log_every == 0 or step == total:
                record = {
                    "epoch": sampler.epoch_at(step * tc.accum_steps),
                    "lr": lr,
                    "hn_fraction": hn_fraction_at(tc.hn_schedule, (step - 1) / total),
                    **beta,
                    **metrics,
                    **meter.read(),
                }
                logger.log(step, record)
                if bar is not None:
                    bar.set_postfix(loss=f"{metrics['loss']:.4f}", samples_s=f"{record['samples_per_s']:.0f}")
            if bar is not None:
                bar.update(1)
            if step % tc.checkpoint_every == 0 or step == total:
                check_parameters_finite(model, step)  # on every rank, so all stop together
                if dist.is_main:
                    saved = save_training_checkpoint(
                        cfg, step, model, optimizer, scaler, sampler, fingerprint
                    )
                    discard_replaced(state.replaced, saved)  # the old run goes once the new one has a model
                    state.replaced = []
    finally:
        del batches  # shuts the DataLoader's workers down
        logger.close()
        if bar is not None:
            bar.close()


# ----------------------------------------------------------------------------- setup helpers


def total_steps(tc: TrainConfig, captions_per_epoch: int) -> int:
    """train.steps, or ⌈epochs · steps per epoch⌉ with steps per epoch = ⌊captions / (B · accum_steps)⌋ ≥ 1."""
    if tc.steps is not None:
        return tc.steps
    per_epoch = max(1, captions_per_epoch // (tc.batch_size * tc.accum_steps))
    return max(1, math.ceil((tc.epochs or 1.0) * per_epoch))


def start_fresh(train_dir: Path, replaced: list[Path]) -> None:
    """A fresh run's logs start empty: the TensorBoard events of a run it replaces go (its checkpoints go
    at the new run's first checkpoint, see `checkpoints.discard_replaced`)."""
    if replaced:
        log.warning(
            "%s: starting over (--overwrite); the %d old checkpoint file(s) go at the first new checkpoint",
            train_dir,
            len(replaced),
        )
    shutil.rmtree(train_dir / TENSORBOARD_DIR, ignore_errors=True)


def device_type(device: str) -> str:
    """'cuda' or 'cpu' (what autocast and GradScaler call the device)."""
    return "cuda" if device.startswith("cuda") else "cpu"


# ----------------------------------------------------------------------------- one optimiser step


def train_step(
    model: nn.Module,
    loss_fn: ContrastiveLoss,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    micro_batches: list[TrainBatch],
    precision: str,
    grad_clip: float | None,
    step: int,
    device: str = "cpu",
    row_grads: RowGrads | None = None,
) -> dict[str, float]:
    """Forward + backward over the micro-batches (gradients averaged), clip, optimiser step, clamp the scale.

    `row_grads` (the model's, if its embeddings give sparse gradients) makes them dense before the clip.

    Returns the loss components (mean over micro-batches), the gradient norm and the logit scale.
    Raises NonFiniteError naming `step` when a loss or the gradient norm is NaN/inf.
    """
    totals: dict[str, float] = {}
    for index, batch in enumerate(micro_batches):
        last = index == len(micro_batches) - 1
        sync = nullcontext() if last or not isinstance(model, DistributedDataParallel) else model.no_sync()
        with sync:
            losses = compute_losses(model, loss_fn, batch, precision, device)
            values = {k: float(v.detach()) for k, v in losses.items()}
            check_finite(values, step)
            scaler.scale(losses["loss"] / len(micro_batches)).backward()
        for key, value in values.items():
            totals[key] = totals.get(key, 0.0) + value / len(micro_batches)
    if row_grads is not None:
        row_grads.densify()
    scaler.unscale_(optimizer)
    params = [p for p in model.parameters() if p.grad is not None]
    total_norm = total_grad_norm([p.grad for p in params])
    grad_norm = float(total_norm)
    if not math.isfinite(grad_norm) and not scaler.is_enabled():  # fp16: the scaler skips such steps
        raise NonFiniteError(
            f"the gradient norm is {grad_norm} at step {step} (losses {_fmt(totals)}); "
            "stopped. Lower train.lr or set train.grad_clip"
        )
    with clipped_update(optimizer, params, total_norm, grad_clip, scaler.is_enabled()):
        scaler.step(optimizer)
    scaler.update()
    optimizer.zero_grad(set_to_none=True)
    if row_grads is not None:
        row_grads.clear()
    inner = unwrap_model(model)
    clamp_logit_scale(inner)
    return {**totals, "grad_norm": grad_norm, "logit_scale": float(inner.logit_scale.detach().exp())}


def compute_losses(
    model: nn.Module, loss_fn: ContrastiveLoss, batch: TrainBatch, precision: str, device: str = "cpu"
) -> dict[str, torch.Tensor]:
    """Encodes a batch under autocast, then evaluates the loss in float32 on the (all-rank) gathered batch.

    The text tower runs only the token columns the batch's captions reach (`models/text_trim.py`: the same
    features and gradients as the full 32 columns, ~0.85× the quickstart step).
    """
    autocast = torch.autocast(
        device_type(device),
        dtype=AUTOCAST_DTYPES.get(precision, torch.bfloat16),
        enabled=precision in AUTOCAST_DTYPES,
    )
    with autocast, attention_backend(device):
        outputs = clip_forward(
            model, batch.images.to(device, non_blocking=True), batch.tokens.to(device, non_blocking=True)
        )
    image_features, text_features, logit_scale, logit_bias = unpack_outputs(outputs)
    contrastive = ContrastiveBatch(
        image_features=image_features.float(),
        text_features=text_features.float(),
        image_caption=batch.image_caption.to(device),
        text_partner=batch.text_partner.to(device),
        text_is_negative=batch.text_is_negative.to(device),
        logit_scale=logit_scale.float(),
        logit_bias=None if logit_bias is None else logit_bias.float(),
    )
    return loss_fn(gather_batch(contrastive))


def unpack_outputs(outputs: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """(image features, text features, exp'd logit scale, logit bias or None) from open_clip's dict or tuple."""
    if isinstance(outputs, dict):
        return (
            outputs["image_features"],
            outputs["text_features"],
            outputs["logit_scale"],
            outputs.get("logit_bias"),
        )
    bias = outputs[3] if len(outputs) > 3 else None
    return outputs[0], outputs[1], outputs[2], bias


def check_finite(values: dict[str, float], step: int) -> None:
    """Raises NonFiniteError (naming the step and every component) unless the loss is finite."""
    if not math.isfinite(values["loss"]):
        raise NonFiniteError(
            f"the loss is not finite at step {step} ({_fmt(values)}); training stopped. The last good "
            "checkpoint (checkpoints/last.pt) is kept. Lower train.lr, set train.grad_clip, or use "
            "train.precision=fp32/bf16"
        )


def _fmt(values: dict[str, float]) -> str:
    return ", ".join(f"{k}={v:.6g}" for k, v in values.items())


# ----------------------------------------------------------------------------- the checkpoint guard


def check_parameters_finite(model: nn.Module, step: int) -> None:
    """Raises NonFiniteError naming the first bad parameters, so a diverged model is never checkpointed."""
    bad = [name for name, p in unwrap_model(model).named_parameters() if not bool(torch.isfinite(p).all())]
    if bad:
        raise NonFiniteError(
            f"parameters {bad[:3]} are not finite at step {step}; the checkpoint is not written and "
            "last.pt stays the last good one. Lower train.lr or set train.grad_clip"
        )
