"""`tripletclip-sym` (ours): base and hard-negative images and captions in one similarity matrix."""

from __future__ import annotations

import torch

from synthmphn.losses.base import LOSSES, ContrastiveBatch, ContrastiveLoss
from synthmphn.losses.common import check_batch, require_negatives
from synthmphn.losses.mpclip import multi_positive_clip


@LOSSES.register("tripletclip-sym")
class TripletClipSymLoss(ContrastiveLoss):
    """mpclip over the union of base and hard-negative rows: every image against every caption and back.

        L_i2t = −(1/N) Σ_i log softmax_{j ∈ B ∪ H}(s f_i·g_j)[c(i)]
        L_t2i = −(1/|R|) Σ_{j ∈ R} (1/m_j) Σ_{i: c(i)=j} log softmax_{k ∈ I_B ∪ I_H}(s g_j·f_k)[i]
        L = ½ (L_i2t + L_t2i)

    Unlike `tripletclip`, a caption's text→image row holds the images of its hard-negative partner (and
    every other image), and an image's row holds its caption's partner: the hard negative is a negative
    in both directions. With m images per caption it is the multi-positive form, literally `mpclip` on
    the whole batch, which is why it should close the gap to `mpclip`. It differs from mpclip only in
    requiring hard negatives (so the sampler puts pairs in the batch). Captions without images are only
    text columns. Returns loss, loss_i2t = ½ L_i2t, loss_t2i = ½ L_t2i.
    """

    needs_negatives = True

    def forward(self, batch: ContrastiveBatch) -> dict[str, torch.Tensor]:
        check_batch(batch)
        require_negatives(batch, "tripletclip-sym")
        return multi_positive_clip(batch)
