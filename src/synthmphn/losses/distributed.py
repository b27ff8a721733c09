"""Gather a contrastive batch from every rank, with gradients, so each rank computes the global loss.

Why this gives exactly the single-process gradients. Each of W ranks holds a slice x_r of the global
batch and computes the SAME scalar L(x_1, ..., x_W) on the gathered batch. The backward of
`torch.distributed.nn.functional.all_gather` sums, over ranks, the gradient each rank computed for a
slice, so rank r receives Σ_q ∂L/∂x_r = W · ∂L/∂x_r for its own features and back-propagates it
into its model replica: g_r = W · (∂L/∂x_r)(∂x_r/∂θ). DDP then averages: (1/W) Σ_r g_r =
Σ_r (∂L/∂x_r)(∂x_r/∂θ) = dL/dθ, the gradient of one process on the whole batch. The logit scale (and
bias) are not gathered: every rank uses its own replica, gets the full ∂L/∂s, and the DDP average
of W equal values is ∂L/∂s again.

Layout of the gathered batch: rank 0's rows, then rank 1's, ... . Locally, `image_caption` and
`text_partner` index the rank's own caption rows (a caption, its images and its hard-negative partner
live on one rank); they are shifted by the number of caption rows of the ranks before. Ranks may hold
different numbers of rows: sizes are gathered first and every tensor is padded to the largest size.
"""

from __future__ import annotations

import warnings

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_fn
import torch.nn.functional as F

from synthmphn.losses.base import ContrastiveBatch


def is_distributed() -> bool:
    """True inside an initialised process group with more than one rank."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def gather_batch(batch: ContrastiveBatch, group: dist.ProcessGroup | None = None) -> ContrastiveBatch:
    """The global batch of all ranks (features keep their autograd graph); `batch` itself when not distributed."""
    if not is_distributed():
        return batch
    device = batch.image_features.device
    local_sizes = torch.tensor(
        [batch.text_features.shape[0], batch.image_features.shape[0]], dtype=torch.long, device=device
    )
    sizes = [torch.zeros_like(local_sizes) for _ in range(dist.get_world_size(group))]
    dist.all_gather(sizes, local_sizes, group=group)
    text_sizes = [int(size[0]) for size in sizes]
    image_sizes = [int(size[1]) for size in sizes]
    text_offset = sum(text_sizes[: dist.get_rank(group)])

    partner = batch.text_partner
    partner = torch.where(partner >= 0, partner + text_offset, partner)
    return ContrastiveBatch(
        image_features=_gather_rows(batch.image_features, image_sizes, group, with_grad=True),
        text_features=_gather_rows(batch.text_features, text_sizes, group, with_grad=True),
        image_caption=_gather_rows(batch.image_caption + text_offset, image_sizes, group),
        text_partner=_gather_rows(partner, text_sizes, group),
        text_is_negative=_gather_rows(batch.text_is_negative.to(torch.uint8), text_sizes, group).bool(),
        logit_scale=batch.logit_scale,
        logit_bias=batch.logit_bias,
    )


def _gather_rows(
    x: torch.Tensor, sizes: list[int], group: dist.ProcessGroup | None, with_grad: bool = False
) -> torch.Tensor:
    """Concatenates every rank's `x` (rows = sizes[rank]) in rank order, padding to the largest size."""
    longest = max(sizes)
    padding = [0, 0] * (x.ndim - 1) + [0, longest - x.shape[0]]
    padded = F.pad(x, padding)
    if with_grad:
        with warnings.catch_warnings():
            # Deprecated in favour of a private API (_functional_collectives); it still works on every backend.
            warnings.simplefilter("ignore", FutureWarning)
            chunks = list(dist_fn.all_gather(padded, group=group))
    else:
        chunks = [torch.empty_like(padded) for _ in sizes]
        dist.all_gather(chunks, padded.contiguous(), group=group)
    return torch.cat([chunk[:size] for chunk, size in zip(chunks, sizes, strict=True)])
