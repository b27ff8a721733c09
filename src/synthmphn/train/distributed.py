"""Multi-process training under torchrun: process-group setup, the rank's device, teardown.

    torchrun --standalone --nproc_per_node 2 --no-python synthmphn train CONFIG

torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; with WORLD_SIZE > 1 we join a
process group (gloo on CPU, nccl on CUDA). `train.batch_size` is the GLOBAL batch: each rank loads its
contiguous block of B/W caption slots, and the loss gathers every rank's features (with gradients), so
W processes compute the same loss and gradients as one process on the whole batch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


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
