"""`stablerep+`: mpclip plus StableRep's image–image multi-positive loss (Tian et al. 2023)."""

from __future__ import annotations

import torch

from synthmphn.losses.base import LOSSES, ContrastiveBatch, ContrastiveLoss
from synthmphn.losses.common import check_batch, multi_positive_ce
from synthmphn.losses.mpclip import multi_positive_clip


@LOSSES.register("stablerep+")
class StableRepPlusLoss(ContrastiveLoss):
    """mpclip + w · an image–image multi-positive loss at a fixed temperature τ.

        L    = L_mp + w · L_ii
        L_mp = mpclip (image↔caption, see `mpclip`)
        L_ii = −(1/N) Σ_{i ∈ A} (1/|P_i|) Σ_{k ∈ P_i} log softmax_{k' ≠ i}(f_i·f_k' / τ)[k]

    P_i = the other images of image i's caption, A = images with P_i non-empty, N = all images of the
    batch. The softmax runs over all OTHER images of the batch (self is masked with −inf). An image whose
    caption has a single image in the batch has no positive: its row counts as 0 but still counts in N,
    as in StableRep's MultiPosConLoss (targets mask / max(1, |P_i|), mean over every row); it is still a
    negative for the others. A batch with one image per caption has L_ii = 0 and L = mpclip. Options: `image_weight` w (default 1.0) and
    `image_temperature` τ (default 0.1, fixed, not learned). Returns loss, loss_mp, loss_ii (unweighted).
    """

    def __init__(self, image_weight: float = 1.0, image_temperature: float = 0.1) -> None:
        super().__init__()
        if image_temperature <= 0:
            raise ValueError(f"stablerep+: image_temperature must be > 0, got {image_temperature}")
        self.image_weight = float(image_weight)
        self.image_temperature = float(image_temperature)

    def forward(self, batch: ContrastiveBatch) -> dict[str, torch.Tensor]:
        check_batch(batch)
        loss_mp = multi_positive_clip(batch)["loss"]
        loss_ii = self.image_image_loss(batch)
        return {"loss": loss_mp + self.image_weight * loss_ii, "loss_mp": loss_mp, "loss_ii": loss_ii}

    def image_image_loss(self, batch: ContrastiveBatch) -> torch.Tensor:
        """L_ii (see class docstring); 0 when no caption has two images in the batch."""
        caption = batch.image_caption
        self_mask = torch.eye(len(caption), dtype=torch.bool, device=caption.device)
        positives = (caption[:, None] == caption[None, :]) & ~self_mask
        if not bool(positives.any()):
            return batch.image_features.new_zeros(())
        features = batch.image_features
        logits = (features @ features.T / self.image_temperature).masked_fill(self_mask, float("-inf"))
        anchors = positives.any(dim=1).sum()  # multi_positive_ce averages over these rows only
        return multi_positive_ce(logits, positives) * anchors / len(caption)
