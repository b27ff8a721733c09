"""`hn-nce`: hardness-weighted multi-positive InfoNCE (HN-NCE of DiHT, Radenovic et al., CVPR 2023).

Also `hn-nce-thesis`, the same loss at the thesis's settings (α = 1, β = 0.25); see `ThesisHnNceLoss`.
"""

from __future__ import annotations

import math

import torch

from synthmphn.losses.base import LOSSES, ContrastiveBatch, ContrastiveLoss
from synthmphn.losses.common import check_batch, positive_mask, rows_with_positive


@LOSSES.register("hn-nce")
class HnNceLoss(ContrastiveLoss):
    """Multi-positive InfoNCE whose negatives weigh more the harder they are (DiHT's HN-NCE, both ways).

    For a row r (an image in i2t, a caption in t2i) with positive columns P_r, negative columns N_r,
    K_r = |N_r| and logits z_rc = s·f·g (s = exp'd logit scale):

        w_rc = K_r · exp(β z_rc) / Σ_{c' ∈ N_r} exp(β z_rc')            for c ∈ N_r   (mean weight 1)
        D_r  = α Σ_{p ∈ P_r} exp(z_rp) + Σ_{c ∈ N_r} w_rc exp(z_rc)
        ℓ_r  = −(1/|P_r|) Σ_{p ∈ P_r} [ z_rp − log D_r ]
        L_i2t = mean over images of ℓ;  L_t2i = mean over captions with images of ℓ
        L = ½ (L_i2t + L_t2i)

    i2t: image i's positive is its caption c(i), every other caption row is a negative. t2i: caption j's
    positives are its m_j images, every image of another caption is a negative; a caption's own images
    are never its negatives (they enter D_r with α), and a caption without images in the batch is left
    out of L_t2i but stays a negative column for every image. β = 0, α = 1 gives w ≡ 1 and D_r = the
    full softmax denominator: exactly `mpclip` (and `clip` at one image per caption). Larger β puts the
    negative mass on the most similar negatives (importance sampling of hard negatives). As in the public
    re-implementations of DiHT's loss (DiHT's own training code is unreleased, facebookresearch/diht#17),
    β multiplies the scaled logit (β·cos/τ) and the weights are not detached. Unlike those, the two
    directions are averaged (½), not summed, so β = 0 is our `mpclip` (equal to float64 rounding, tested).

    Hard negatives: the whole batch is one similarity matrix, as in `mpclip` / `tripletclip-sym`. A base
    caption's hard-negative caption is a negative column of its images' i2t rows, and the hard negative's
    images are negative columns of its t2i row (and symmetrically for the HN caption), so at β > 0 these
    nearest, hardest negatives get the largest weights. No pairs are required (needs_negatives False):
    with no HN rows in the batch the weights act on the in-batch negatives alone. The logit bias is unused.

    Options: `alpha` α ≥ 0 (default 1; 0 drops the positives from the denominator, the decoupled form)
    and `beta` β ≥ 0 (default 0.5, as in the LAVIS-based re-implementation we read; others default to 0
    or 0.25, and the paper's value was not checked offline; `train.hn_beta` schedules β per step).
    Returns loss, loss_i2t = ½ L_i2t, loss_t2i = ½ L_t2i.
    """

    def __init__(self, alpha: float = 1.0, beta: float = 0.5) -> None:
        super().__init__()
        if not alpha >= 0:
            raise ValueError(f"hn-nce: alpha must be >= 0, got {alpha}")
        self.alpha = float(alpha)
        self.beta = beta  # validated by the property setter

    @property
    def beta(self) -> float:
        """β, the hardness concentration; the training loop sets it each step when train.hn_beta is given."""
        return self._beta

    @beta.setter
    def beta(self, value: float) -> None:
        if not (value >= 0 and math.isfinite(value)):
            raise ValueError(f"hn-nce: beta must be a finite number >= 0, got {value}")
        self._beta = float(value)

    def forward(self, batch: ContrastiveBatch) -> dict[str, torch.Tensor]:
        check_batch(batch)
        positives = positive_mask(batch.image_caption, batch.text_features.shape[0])
        logits = batch.logit_scale * batch.image_features @ batch.text_features.T
        i2t = hardness_weighted_ce(logits, positives, self.alpha, self.beta)
        t2i = hardness_weighted_ce(logits.T, positives.T, self.alpha, self.beta)
        return {"loss": 0.5 * (i2t + t2i), "loss_i2t": 0.5 * i2t, "loss_t2i": 0.5 * t2i}


@LOSSES.register("hn-nce-thesis")
class ThesisHnNceLoss(HnNceLoss):
    """`hn-nce` with the thesis code's importance-weighted hard-negative settings, α = 1, β = 0.25.

    L = ½ (L_i2t + L_t2i) exactly as in `hn-nce` (same formula, same treatment of hard-negative rows);
    only the defaults differ. Source: synthmphn issue 16 reports that the thesis's code
    (Brusini, "Enhancing contrastive learning with synthetic data from text-to-image models", PoliMi
    2024/25) carries a DiHT-style importance-weighted loss with α = 1, β = 0.25. That code was not
    available offline and the thesis text we have (its abstract) does not state the loss, so beyond those
    two numbers nothing is verified: if the thesis weighted, normalised or summed differently, this
    preset does not reproduce it.
    """

    def __init__(self, alpha: float = 1.0, beta: float = 0.25) -> None:
        super().__init__(alpha=alpha, beta=beta)


def hardness_weighted_ce(
    logits: torch.Tensor, positives: torch.Tensor, alpha: float, beta: float
) -> torch.Tensor:
    """Mean over rows with a positive of ℓ_r = log D_r − mean_{p ∈ P_r} z_rp (see `HnNceLoss`), in log space.

        log D_r = logaddexp( log α + LSE_{P_r}(z_r), log K_r + LSE_{N_r}((1 + β) z_r) − LSE_{N_r}(β z_r) )

    since Σ_{c∈N_r} w_rc e^{z_rc} = K_r Σ_N e^{(1+β)z} / Σ_N e^{βz}. A row without negatives has only its
    positive part. `logits` [R, C], `positives` [R, C] bool; rows without a positive are left out (as in
    `multi_positive_ce`); half precision is upcast to float32.
    """
    logits, positives, counts = rows_with_positive(logits, positives)
    negatives = ~positives
    n_negatives = negatives.sum(dim=1)
    has_negatives = n_negatives > 0
    # Rows without negatives get a dummy all-columns mask so nothing below is −inf − (−inf); where() drops them.
    negative_columns = negatives | ~has_negatives[:, None]
    negative_part = (
        n_negatives.clamp(min=1).to(logits.dtype).log()
        + ((1.0 + beta) * logits).masked_fill(~negative_columns, -math.inf).logsumexp(dim=1)
        - (beta * logits).masked_fill(~negative_columns, -math.inf).logsumexp(dim=1)
    )
    negative_part = torch.where(has_negatives, negative_part, -math.inf)
    positive_part = logits.masked_fill(negatives, -math.inf).logsumexp(dim=1)
    if alpha > 0:
        log_denominator = torch.logaddexp(math.log(alpha) + positive_part, negative_part)
    elif bool(has_negatives.all()):
        log_denominator = negative_part
    else:
        raise ValueError("hn-nce with alpha = 0 needs a negative in every row; a row here has none")
    mean_positive = logits.masked_fill(negatives, 0.0).sum(dim=1) / counts
    return (log_denominator - mean_positive).mean()
