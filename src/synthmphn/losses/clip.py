"""`clip`: the symmetric InfoNCE of CLIP (Radford et al. 2021), one image per caption."""

from __future__ import annotations

import torch

from synthmphn.losses.base import LOSSES, ContrastiveBatch, ContrastiveLoss
from synthmphn.losses.common import check_batch, image_text_terms


@LOSSES.register("clip")
class ClipLoss(ContrastiveLoss):
    """Symmetric InfoNCE over the n (image, caption) pairs of the batch.

        L = ½ [ CE(s F Gᵀ, I) + CE(s G Fᵀ, I) ],   CE(Z, I) = −(1/n) Σ_i log softmax(Z_i)_i

    F = image features [n, D], G = caption features [n, D] (L2-normalised), s = exp'd logit scale.
    Requires exactly one image per caption, in caption order (image_caption == arange(n)); every caption
    row is an ordinary caption (hard-negative rows, if any, are just more pairs). The logit bias is unused.
    Returns loss, loss_i2t = ½ CE(s F Gᵀ, I), loss_t2i = ½ CE(s G Fᵀ, I).
    """

    def forward(self, batch: ContrastiveBatch) -> dict[str, torch.Tensor]:
        check_batch(batch)
        n_texts = batch.text_features.shape[0]
        expected = torch.arange(n_texts, device=batch.image_caption.device)
        if batch.image_features.shape[0] != n_texts or not torch.equal(batch.image_caption, expected):
            raise ValueError(
                f"loss 'clip' needs exactly one image per caption in caption order, got "
                f"{batch.image_features.shape[0]} images for {n_texts} captions; use loss 'mpclip' for "
                "several images per caption, or set train.images_per_caption=1"
            )
        all_images = torch.ones(n_texts, dtype=torch.bool, device=expected.device)
        i2t, t2i = image_text_terms(batch, all_images, all_images)
        return {"loss": 0.5 * (i2t + t2i), "loss_i2t": 0.5 * i2t, "loss_t2i": 0.5 * t2i}
