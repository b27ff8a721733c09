"""Batch builders for the loss tests: tiny random features with a chosen caption/HN structure."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F

from synthmphn.losses.base import ContrastiveBatch

# Captions: three base+HN pairs, one base single, one HN single.
#   rows:      b0 h0 b1 h1 b2 h2 b3 h4
HN_NEGATIVE = [False, True, False, True, False, True, False, True]
HN_PARTNER = [1, 0, 3, 2, 5, 4, -1, -1]

BatchMaker = Callable[..., ContrastiveBatch]


def build_batch(
    images_per_caption: list[int],
    negative: list[bool] | None = None,
    partner: list[int] | None = None,
    dim: int = 5,
    seed: int = 0,
    scale: float = 2.5,
    bias: float | None = None,
    dtype: torch.dtype = torch.float64,
) -> ContrastiveBatch:
    """Random unit features; caption j gets images_per_caption[j] images (in caption order)."""
    n = len(images_per_caption)
    generator = torch.Generator().manual_seed(seed)
    image_caption = torch.tensor(
        [j for j, m in enumerate(images_per_caption) for _ in range(m)], dtype=torch.long
    )
    # Drawn in float64 and then cast, so every dtype sees the same features.
    images = F.normalize(
        torch.randn(len(image_caption), dim, generator=generator, dtype=torch.float64), dim=1
    )
    texts = F.normalize(torch.randn(n, dim, generator=generator, dtype=torch.float64), dim=1)
    images, texts = images.to(dtype), texts.to(dtype)
    return ContrastiveBatch(
        image_features=images.requires_grad_(),
        text_features=texts.requires_grad_(),
        image_caption=image_caption,
        text_partner=torch.tensor(partner if partner is not None else [-1] * n, dtype=torch.long),
        text_is_negative=torch.tensor(negative if negative is not None else [False] * n, dtype=torch.bool),
        logit_scale=torch.tensor(scale, dtype=dtype, requires_grad=True),
        logit_bias=None if bias is None else torch.tensor(bias, dtype=dtype, requires_grad=True),
    )


def hn_batch(m: int = 2, **kwargs) -> ContrastiveBatch:
    """The standard hard-negative batch (pairs + singles), m images for every caption."""
    return build_batch([m] * len(HN_NEGATIVE), HN_NEGATIVE, HN_PARTNER, **kwargs)


def batch_for(name: str, **kwargs) -> ContrastiveBatch:
    """A batch every loss accepts: one image per caption for clip, otherwise two; a bias for siglip."""
    bias = -1.0 if name == "siglip" else None
    return hn_batch(m=1 if name == "clip" else 2, bias=bias, **kwargs)


@pytest.fixture
def make_batch() -> BatchMaker:
    return build_batch


@pytest.fixture
def make_hn_batch() -> BatchMaker:
    return hn_batch


@pytest.fixture
def make_batch_for() -> BatchMaker:
    return batch_for


# ----------------------------------------------------------------------------- hand computations (plain Python)


def log_softmax_at(row: list[float], index: int) -> float:
    """log softmax(row)[index], written out."""
    top = max(row)
    return row[index] - (top + math.log(sum(math.exp(v - top) for v in row)))


def dot(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(sum(float(x) * float(y) for x, y in zip(a.detach(), b.detach(), strict=True)))


class Hand:
    """Explicit-loop reference computations (independent of synthmphn.losses)."""

    log_softmax_at = staticmethod(log_softmax_at)
    dot = staticmethod(dot)

    @staticmethod
    def i2t(batch: ContrastiveBatch, images: list[int], texts: list[int]) -> float:
        """Mean over `images` of −log softmax over caption columns `texts` at the image's caption."""
        s = float(batch.logit_scale.detach())
        total = 0.0
        for i in images:
            row = [s * dot(batch.image_features[i], batch.text_features[j]) for j in texts]
            total -= log_softmax_at(row, texts.index(int(batch.image_caption[i])))
        return total / len(images)

    @staticmethod
    def t2i(batch: ContrastiveBatch, texts: list[int], images: list[int]) -> float:
        """Mean over `texts` with images among `images` of −mean log softmax at its own images."""
        s = float(batch.logit_scale.detach())
        total, rows = 0.0, 0
        for j in texts:
            own = [k for k, i in enumerate(images) if int(batch.image_caption[i]) == j]
            if not own:
                continue
            row = [s * dot(batch.text_features[j], batch.image_features[i]) for i in images]
            total -= sum(log_softmax_at(row, k) for k in own) / len(own)
            rows += 1
        return total / rows


@pytest.fixture
def hand() -> type[Hand]:
    return Hand
