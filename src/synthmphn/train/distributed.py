"""Multi-process training under torchrun: process-group setup, the rank's device, teardown.

    torchrun --standalone --nproc_per_node 2 --no-python synthmphn train CONFIG

torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; with WORLD_SIZE > 1 we join a
process group (gloo on CPU, nccl on CUDA). `train.batch_size` is the GLOBAL batch: each rank loads its
contiguous block of B/W caption slots, and the loss gathers every rank's features (with gradients), so
W processes compute the same loss and gradients as one process on the whole batch.

BatchNorm is the exception: each process normalises its own B/W samples and keeps its own running
statistics. On CUDA (nccl) `sync_batchnorm` converts BatchNorm layers to SyncBatchNorm, which computes
the statistics over the global batch. torch's SyncBatchNorm runs only on GPUs, so on CPU (gloo) a
BatchNorm model (open_clip's ModifiedResNet: `synth-tiny-cnn`, `synth-tiny-cnn-32`) trains differently
from one process, and a warning says so; `synth-tiny-convnext-32` (timm ConvNeXt, LayerNorm) and the ViTs
have no BatchNorm, so W processes equal one.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

log = logging.getLogger(__name__)

BATCHNORM_ON_CPU = (
    "%d BatchNorm layers and %d CPU processes: torch's SyncBatchNorm needs GPUs, so each process normalises "
    "its own %d-sample share of the batch and keeps its own running statistics; the weights drift from a "
    "1-process run (measured for synth-tiny-cnn-32, 4 steps of B=8 on 2 processes: 157 of its 158 "
    "float tensors differ, BatchNorm running_var by up to 0.054, weights by up to 0.006). For runs "
    "equal to one process use a "
    "BatchNorm-free model: synth-tiny-convnext-32 (LayerNorm CNN) or a ViT."
)


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands: its rank among `world_size`, local rank and torch device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1
    device: str = "cpu"

    @property
    def is_main(self) -> bool:
        """Rank 0 writes logs and checkpoints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """True with more than one process."""
        return self.world_size > 1


def init_distributed(device: str) -> DistInfo:
    """Joins the torchrun process group when WORLD_SIZE > 1 (else a single-process DistInfo).

    `device` is train.device: "cpu" (gloo) or "cuda" (nccl, one GPU per local rank).
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistInfo(device=device)
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world_size)))
    on_cuda = device.startswith("cuda")
    if on_cuda:
        torch.cuda.set_device(local_rank)
        device = f"cuda:{local_rank}"
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if on_cuda else "gloo", rank=rank, world_size=world_size)
    return DistInfo(
        rank=rank, world_size=world_size, local_rank=local_rank, local_world_size=local_world, device=device
    )


def cleanup_distributed(info: DistInfo) -> None:
    """Leaves the process group this module joined (a no-op for single-process runs)."""
    if info.distributed and dist.is_initialized():
        dist.destroy_process_group()


def batchnorm_layers(model: nn.Module) -> int:
    """How many BatchNorm layers (1d/2d/3d, synced or not) `model` has."""
    return sum(isinstance(module, nn.modules.batchnorm._BatchNorm) for module in model.modules())


def sync_batchnorm(model: nn.Module, info: DistInfo, batch_size: int) -> nn.Module:
    """SyncBatchNorm over the global batch on CUDA; on CPU a warning that BatchNorm breaks W == 1.

    Call before wrapping in DDP. The converted layers keep the same parameters and buffers (same names),
    so an optimiser built earlier and our checkpoints stay valid.
    """
    layers = batchnorm_layers(model)
    if not info.distributed or layers == 0:
        return model
    if info.device.startswith("cuda"):
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)
    if info.is_main:
        log.warning(BATCHNORM_ON_CPU, layers, info.world_size, batch_size // info.world_size)
    return model
