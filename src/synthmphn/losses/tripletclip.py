"""`tripletclip`: the thesis form of TripletCLIP (Patel et al. 2024), two NegCLIP terms."""

from __future__ import annotations

import torch

from synthmphn.losses.base import LOSSES, ContrastiveBatch, ContrastiveLoss
from synthmphn.losses.common import check_batch, image_text_terms, require_negatives


@LOSSES.register("tripletclip")
class TripletClipLoss(ContrastiveLoss):
    """negclip(base images, base texts, HN texts) + negclip(HN images, HN texts, base texts).

        L      = L_base + L_neg
        L_base = ½ [ i2t(I_B over B ∪ H) + t2i(B over I_B) ]
        L_neg  = ½ [ i2t(I_H over H ∪ B) + t2i(H over I_H) ]

    with the multi-positive i2t / t2i cross-entropies of `negclip`: B / H = base / hard-negative caption
    rows, I_B / I_H = images of base / hard-negative captions. Each image is scored against every caption
    of the batch (its own, its partner and all others); each caption is scored only against the images
    of its own side, so a caption's hard-negative image is never one of its text→image columns. That
    missing image negative is the thesis form's known weakness; `mpclip` on the same batch has it
    (`tripletclip-sym` is that alias).
    Singles (text_partner == −1) are ordinary rows of their side: a base single is in L_base, a
    hard-negative single in L_neg; both are text columns of both terms' i2t. Requires hard-negative
    captions and their images in the batch. Returns loss, loss_base, loss_neg, and
    loss_i2t / loss_t2i (the two directions summed over both terms; loss = loss_i2t + loss_t2i).
    """

    needs_negatives = True

    def forward(self, batch: ContrastiveBatch) -> dict[str, torch.Tensor]:
        check_batch(batch)
        require_negatives(batch, "tripletclip")
        negative_texts = batch.text_is_negative.to(torch.bool)
        negative_images = negative_texts[batch.image_caption]
        for side, images in (("base", ~negative_images), ("hard-negative", negative_images)):
            if not bool(images.any()):
                raise ValueError(
                    f"loss 'tripletclip' needs images of the {side} captions in the batch, but it holds none "
                    "(use negclip when hard negatives have no images)"
                )
        i2t_base, t2i_base = image_text_terms(batch, ~negative_images, ~negative_texts)
        i2t_neg, t2i_neg = image_text_terms(batch, negative_images, negative_texts)
        loss_base = 0.5 * (i2t_base + t2i_base)
        loss_neg = 0.5 * (i2t_neg + t2i_neg)
        return {
            "loss": loss_base + loss_neg,
            "loss_base": loss_base,
            "loss_neg": loss_neg,
            "loss_i2t": 0.5 * (i2t_base + i2t_neg),
            "loss_t2i": 0.5 * (t2i_base + t2i_neg),
        }
