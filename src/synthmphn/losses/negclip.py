"""`negclip`: CLIP with hard-negative captions as extra text columns (Yuksekgonul et al. 2023)."""

from __future__ import annotations

import torch

from synthmphn.losses.base import LOSSES, ContrastiveBatch, ContrastiveLoss
from synthmphn.losses.common import check_batch, image_text_terms, require_negatives


@LOSSES.register("negclip")
class NegClipLoss(ContrastiveLoss):
    """Multi-positive CLIP on the base captions, with every hard-negative caption as an extra column.

        L_i2t = −(1/|I_B|) Σ_{i ∈ I_B} log softmax_{j ∈ B ∪ H}(s f_i·g_j)[c(i)]
        L_t2i = −(1/|R_B|) Σ_{j ∈ R_B} (1/m_j) Σ_{i: c(i)=j} log softmax_{k ∈ I_B}(s g_j·f_k)[i]
        L = ½ (L_i2t + L_t2i)

    B = base caption rows (text_is_negative False), H = hard-negative rows, I_B = images of base
    captions, R_B = base captions with images in the batch, m_j = their image counts. Images of
    hard-negative captions, if the batch holds any, are ignored (that is what `tripletclip` adds).
    Without the H columns and with one image per caption it would be `clip`. Requires hard negatives.
    Returns loss, loss_i2t = ½ L_i2t, loss_t2i = ½ L_t2i.
    """

    needs_negatives = True
    uses_negative_images = False

    def forward(self, batch: ContrastiveBatch) -> dict[str, torch.Tensor]:
        check_batch(batch)
        require_negatives(batch, "negclip")
        base_texts = ~batch.text_is_negative.to(torch.bool)
        base_images = base_texts[batch.image_caption]
        if not bool(base_images.any()):
            raise ValueError("loss 'negclip' needs images of the base captions, but the batch holds none")
        i2t, t2i = image_text_terms(batch, base_images, base_texts)
        return {"loss": 0.5 * (i2t + t2i), "loss_i2t": 0.5 * i2t, "loss_t2i": 0.5 * t2i}
