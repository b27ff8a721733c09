"""The contrastive batch every objective consumes, and the loss registry.

A batch holds n captions (text rows) and N images. `image_caption[i]` is the text row image i depicts
(m images per caption give m entries per row). `text_partner[j]` is the row of caption j's hard-negative
partner (the base caption for an HN, the HN for a base), or -1 when j is a single. `text_is_negative[j]`
marks HN captions. Features are L2-normalised; `logit_scale` is already exponentiated (s = exp(t)).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from synthmphn.registry import Registry


@dataclass
class ContrastiveBatch:
    """Normalised features plus the structure of the batch (see module docstring)."""

    image_features: torch.Tensor  # [N, D]
    text_features: torch.Tensor  # [n, D]
    image_caption: torch.Tensor  # [N] long, index into text rows
    text_partner: torch.Tensor  # [n] long, -1 for singles
    text_is_negative: torch.Tensor  # [n] bool
    logit_scale: torch.Tensor  # scalar, exp'd
    logit_bias: torch.Tensor | None = None  # scalar (siglip)


class ContrastiveLoss(nn.Module):
    """Base class: `forward(batch) -> {"loss": total, <component>: value, ...}`."""

    needs_negatives: bool = False  # True: the batch must contain base+HN pairs
    needs_logit_bias: bool = False  # True: the model must have a learnable logit bias (sigmoid losses)
    uses_negative_images: bool = True  # False: images of HN captions are loaded but never enter the loss

    def forward(self, batch: ContrastiveBatch) -> dict[str, torch.Tensor]:  # pragma: no cover - interface
        raise NotImplementedError


LOSSES: Registry[type[ContrastiveLoss]] = Registry("loss")
"""name -> ContrastiveLoss subclass, constructed with keyword options from `train.loss_options`."""
