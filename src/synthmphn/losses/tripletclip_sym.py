"""`tripletclip-sym`: an ALIAS of `mpclip` that also demands hard-negative pairs in the batch.

Not a distinct objective. "Base and hard-negative images and captions in one similarity matrix" is what
`mpclip` already computes: it takes every image and caption row of the batch, HN rows included, so

    L_tripletclip-sym(batch) = L_mpclip(batch)   for every batch (an identity, tested).

Two runs that differ only in `mpclip` vs `tripletclip-sym` on data with hard negatives are the same run
(the sampler lays out pairs for both). The name is kept so existing configs keep working; results must
report it as mpclip.
"""

from __future__ import annotations

import torch

from synthmphn.losses.base import LOSSES, ContrastiveBatch
from synthmphn.losses.common import check_batch, require_negatives
from synthmphn.losses.mpclip import MultiPositiveClipLoss

ALIAS_OF = "mpclip"


@LOSSES.register("tripletclip-sym")
class TripletClipSymLoss(MultiPositiveClipLoss):
    """Alias of `mpclip` (module docstring): the same loss, failing when the batch holds no HN pair.

        L = L_mpclip over all base and hard-negative rows (see `mpclip` for the formula)

    Returns loss, loss_i2t, loss_t2i exactly as `mpclip`.
    """

    needs_negatives = True

    def forward(self, batch: ContrastiveBatch) -> dict[str, torch.Tensor]:
        check_batch(batch)
        require_negatives(batch, "tripletclip-sym")
        return super().forward(batch)
