"""`mpclip`: Multi-Positive CLIP, n captions with m images each."""

from __future__ import annotations

import torch

from synthmphn.losses.base import LOSSES, ContrastiveBatch, ContrastiveLoss
from synthmphn.losses.common import check_batch, image_text_terms


@LOSSES.register("mpclip")
class MultiPositiveClipLoss(ContrastiveLoss):
    """Multi-positive symmetric InfoNCE: each image has one caption, each caption m images.

        L_i2t = −(1/N) Σ_i log softmax_j(s f_i·g_j)[c(i)]
        L_t2i = −(1/|R|) Σ_{j ∈ R} (1/m_j) Σ_{i: c(i)=j} log softmax_k(s g_j·f_k)[i]
        L = ½ (L_i2t + L_t2i)

    c(i) = caption of image i, m_j = number of images of caption j in the batch, R = captions with
    m_j ≥ 1 (a caption without images is only a negative column for the images). The text→image
    target is uniform 1/m_j over the caption's images (soft-target cross-entropy). With one image per
    caption this is exactly `clip`. Hard-negative rows are ordinary captions here. No logit bias.
    Returns loss, loss_i2t = ½ L_i2t, loss_t2i = ½ L_t2i.
    """

    def forward(self, batch: ContrastiveBatch) -> dict[str, torch.Tensor]:
        check_batch(batch)
        return multi_positive_clip(batch)


def multi_positive_clip(batch: ContrastiveBatch) -> dict[str, torch.Tensor]:
    """mpclip over every image and caption row of `batch` (shared with stablerep+ and tripletclip-sym)."""
    all_images = torch.ones(
        batch.image_features.shape[0], dtype=torch.bool, device=batch.image_caption.device
    )
    all_texts = torch.ones(batch.text_features.shape[0], dtype=torch.bool, device=batch.image_caption.device)
    i2t, t2i = image_text_terms(batch, all_images, all_texts)
    return {"loss": 0.5 * (i2t + t2i), "loss_i2t": 0.5 * i2t, "loss_t2i": 0.5 * t2i}
