"""Building blocks shared by the objectives: batch checks, positive masks and multi-positive cross-entropy.

Conventions every loss follows (see `ContrastiveBatch` for the batch layout):
- "i2t" rows are images, columns are captions; "t2i" rows are captions, columns are images.
- A row's target is uniform over its positives; a row with no positive among the columns (a caption
  whose images are not in the batch) is left out of the mean: it still serves as a negative column.
- Logits in fp16/bf16 (autocast) are upcast to float32 before the softmax.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from synthmphn.losses.base import ContrastiveBatch


def upcast(x: torch.Tensor) -> torch.Tensor:
    """`x` in float32 when it is half precision, unchanged otherwise (float64 stays float64)."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def check_batch(batch: ContrastiveBatch) -> None:
    """Raises ValueError when shapes or indices of `batch` disagree with its documented layout."""
    images, texts = batch.image_features, batch.text_features
    if images.ndim != 2 or texts.ndim != 2 or images.shape[1] != texts.shape[1]:
        raise ValueError(
            f"features must be [N, D] images and [n, D] texts, got {tuple(images.shape)} and {tuple(texts.shape)}"
        )
    n_images, n_texts = images.shape[0], texts.shape[0]
    if n_images == 0 or n_texts == 0:
        raise ValueError(f"empty batch: {n_images} images, {n_texts} captions")
    for field, size in (
        ("image_caption", n_images),
        ("text_partner", n_texts),
        ("text_is_negative", n_texts),
    ):
        value = getattr(batch, field)
        if tuple(value.shape) != (size,):
            raise ValueError(f"{field} must have shape ({size},), got {tuple(value.shape)}")
    caption = batch.image_caption
    if int(caption.min()) < 0 or int(caption.max()) >= n_texts:
        raise ValueError(
            f"image_caption must index the {n_texts} caption rows, got values outside [0, {n_texts})"
        )
    partner = batch.text_partner
    if int(partner.min()) < -1 or int(partner.max()) >= n_texts:
        raise ValueError(f"text_partner must be -1 or a caption row in [0, {n_texts})")


def positive_mask(image_caption: torch.Tensor, n_texts: int) -> torch.Tensor:
    """[N, n] bool: entry (i, j) is True when image i depicts caption j."""
    return image_caption[:, None] == torch.arange(n_texts, device=image_caption.device)[None, :]


def multi_positive_ce(logits: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
    """Soft-target cross-entropy with targets uniform over each row's positives.

        L = (1/|R|) Σ_{r ∈ R} −Σ_c t_rc · log softmax(logits_r)_c,   t_rc = positives_rc / Σ_c' positives_rc'

    R = rows with at least one positive. With one positive per row this is ordinary cross-entropy.
    Entries of `logits` may be −inf (masked columns) as long as they are not positives.
    """
    logits, row_positives, counts = rows_with_positive(logits, positives)
    log_probs = F.log_softmax(logits, dim=1)
    # masked_fill keeps 0·(−inf) at masked, non-positive columns from becoming NaN (values and gradients).
    picked = log_probs.masked_fill(~row_positives, 0.0).sum(dim=1)
    return -(picked / counts).mean()


def rows_with_positive(
    logits: torch.Tensor, positives: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(logits, positives as bool, positive counts) of the rows with at least one positive; logits upcast.

    Raises ValueError when no row has a positive (the batch holds no image of any of its captions).
    """
    positives = positives.to(torch.bool)
    counts = positives.sum(dim=1)
    rows = counts > 0
    if not bool(rows.any()):
        raise ValueError("no row of the logits has a positive: the batch holds no (image, caption) pair")
    return upcast(logits)[rows], positives[rows], counts[rows]


def image_text_terms(
    batch: ContrastiveBatch, image_rows: torch.Tensor, text_rows: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(i2t, t2i) multi-positive cross-entropies on a sub-batch; logits are s·f·g.

    i2t: every image in `image_rows` (bool [N]) against ALL captions of the batch; target = its caption.
    t2i: every caption in `text_rows` (bool [n]) against the images in `image_rows`; target uniform
    over its own images there (captions without such images are left out).
    """
    positives = positive_mask(batch.image_caption, batch.text_features.shape[0])[image_rows]
    logits = batch.logit_scale * batch.image_features[image_rows] @ batch.text_features.T
    i2t = multi_positive_ce(logits, positives)
    t2i = multi_positive_ce(logits[:, text_rows].T, positives[:, text_rows].T)
    return i2t, t2i


def require_negatives(batch: ContrastiveBatch, loss_name: str) -> None:
    """Raises ValueError unless the batch holds hard-negative captions with consistent partners."""
    negative = batch.text_is_negative.to(torch.bool)
    if not bool(negative.any()):
        raise ValueError(
            f"loss {loss_name!r} needs hard-negative captions in the batch, but text_is_negative is all "
            "False; build the dataset with captions.negatives_per_caption >= 1 and a hard-negative "
            "schedule p_max > 0, or use a loss without hard negatives (clip, mpclip, siglip, stablerep+)"
        )
    partner = batch.text_partner
    paired = (partner >= 0).nonzero().flatten()
    if paired.numel() == 0:
        return
    back = partner[partner[paired]]
    same_side = negative[paired] == negative[partner[paired]]
    bad = (back != paired) | same_side
    if bool(bad.any()):
        row = int(paired[bad][0])
        raise ValueError(
            f"text_partner is inconsistent at caption row {row} (partner {int(partner[row])}): partners must "
            "point at each other and pair a base caption with a hard negative"
        )
