"""`siglip`: the pairwise sigmoid loss of SigLIP (Zhai et al. 2023)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from synthmphn.losses.base import LOSSES, ContrastiveBatch, ContrastiveLoss
from synthmphn.losses.common import check_batch, positive_mask, upcast


@LOSSES.register("siglip")
class SigLipLoss(ContrastiveLoss):
    """Every (image, caption) pair of the batch is an independent binary classification.

        L = −(1/N) Σ_i Σ_j log σ( z_ij · (s f_i·g_j + b) ),   z_ij = +1 if image i depicts caption j else −1

    N = number of images (the paper normalises by the batch size: a sum over each image's row, then the
    mean over images), s = exp'd logit scale, b = logit bias (both learnable; SigLIP initialises
    s = 10, b = −10, see the `synth-tiny-sigmoid` config). With m images per caption every one of them is
    a positive of the caption. Captions without images in the batch are negatives for every image.
    Returns loss = loss_pos + loss_neg (the sums over positive and negative pairs, each divided by N).
    """

    needs_logit_bias = True

    def forward(self, batch: ContrastiveBatch) -> dict[str, torch.Tensor]:
        check_batch(batch)
        if batch.logit_bias is None:
            raise ValueError(
                "loss 'siglip' needs a learnable logit bias: use a model whose config sets init_logit_bias "
                "(e.g. synth-tiny-sigmoid) and pass it as ContrastiveBatch.logit_bias"
            )
        positives = positive_mask(batch.image_caption, batch.text_features.shape[0])
        logits = upcast(batch.logit_scale * batch.image_features @ batch.text_features.T + batch.logit_bias)
        signs = positives.to(logits.dtype) * 2 - 1
        pair_terms = -F.logsigmoid(signs * logits)
        n_images = logits.shape[0]
        loss_pos = pair_terms[positives].sum() / n_images
        loss_neg = pair_terms[~positives].sum() / n_images
        return {"loss": loss_pos + loss_neg, "loss_pos": loss_pos, "loss_neg": loss_neg}
