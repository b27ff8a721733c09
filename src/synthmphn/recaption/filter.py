"""The CapFilt-style filter: keep a new caption only when a CLIP model likes it enough more than the old one.

Rule (SPEC §5, as written in the paper's simulation with α = 1.2):

    replace old caption y by new caption ŷ   iff   cos(f(x), g(ŷ)) ≥ α · cos(f(x), g(y))

with f, g the image and text encoders of a CLIP model trained on the raw (noisy) data.

How the rule behaves, sign by sign (s_old = cos(f(x), g(y)), s_new = cos(f(x), g(ŷ))):
- s_old > 0: the new caption must score at least α times the old one; α > 1 asks for a clear improvement,
  α < 1 tolerates a small loss, α = 1 means "at least as good".
- s_old ≤ 0 (the scorer finds the old caption unrelated or contrary to the image): α · s_old ≤ s_old when
  α ≥ 1, so the bar *drops* below the old score, and a new caption scoring a little lower than the old one is
  still accepted. We keep the rule as written (it is what the paper computes): a caption the scorer rejects
  outright is one it is happy to lose, and with α ≥ 1 any new caption scoring ≥ 0 replaces it.
- A group has m images: its image feature is the mean of the m normalised image embeddings, normalised
  again, f̄ = normalize(Σ_i f(x_i) / m), and both captions are scored against f̄ (m = 1 gives f(x) itself).

Two guards beyond the formula: a new caption that is empty (whitespace only) is never accepted, and a new
caption identical to the old one is never counted as "replaced" (the text does not change).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from PIL import Image


class Scorer(Protocol):
    """The part of `ClipEncoder` the filter needs: normalised embeddings of images and texts."""

    def encode_images(self, images: Sequence[Image.Image]) -> torch.Tensor: ...

    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor: ...


@dataclass(frozen=True)
class Decision:
    """The filter's verdict on one item: both captions, both scores, and whether the new one replaced the old."""

    old: str
    new: str
    old_score: float
    new_score: float
    replaced: bool

    @property
    def caption(self) -> str:
        """The caption to keep: the new one when replaced, else the old one."""
        return self.new if self.replaced else self.old

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict of the decision."""
        return asdict(self)


def passes_rule(old_score: float, new_score: float, alpha: float) -> bool:
    """The CapFilt rule: new_score ≥ α · old_score (see the module docstring for negative scores)."""
    return new_score >= alpha * old_score


def item_features(scorer: Scorer, images: Sequence[Image.Image | Sequence[Image.Image]]) -> torch.Tensor:
    """[n, D] image features, one row per item: an image's embedding, or a group's renormalised mean embedding."""
    groups = [[item] if isinstance(item, Image.Image) else list(item) for item in images]
    if any(not group for group in groups):
        raise ValueError("every item needs at least one image to be scored")
    flat = [image for group in groups for image in group]
    features = F.normalize(scorer.encode_images(flat).float(), dim=-1)
    sizes = [len(group) for group in groups]
    means = torch.stack([chunk.mean(dim=0) for chunk in features.split(sizes)])
    return F.normalize(means, dim=-1)


def filter_captions(
    scorer: Scorer,
    images: Sequence[Image.Image | Sequence[Image.Image]],
    old: Sequence[str],
    new: Sequence[str],
    alpha: float,
) -> list[Decision]:
    """Scores old and new captions against each item's images and decides, per item, which caption to keep.

    `images[i]` is one image or the list of a group's images (scored by their mean feature). Returns one
    `Decision` per item, in order; `replaced` is passes_rule(...) and the new caption is non-empty and differs.
    """
    if not len(images) == len(old) == len(new):
        raise ValueError(
            f"need one old and one new caption per item: {len(images)} items, {len(old)}, {len(new)}"
        )
    if not images:
        return []
    image_features = item_features(scorer, images)
    old_scores = (image_features * F.normalize(scorer.encode_texts(list(old)).float(), dim=-1)).sum(-1)
    new_scores = (image_features * F.normalize(scorer.encode_texts(list(new)).float(), dim=-1)).sum(-1)
    decisions = []
    for old_text, new_text, s_old, s_new in zip(
        old, new, old_scores.tolist(), new_scores.tolist(), strict=True
    ):
        accepted = passes_rule(s_old, s_new, alpha) and bool(new_text.strip()) and new_text != old_text
        decisions.append(Decision(old_text, new_text, s_old, s_new, accepted))
    return decisions
