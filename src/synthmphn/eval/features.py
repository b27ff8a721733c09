"""Frozen features from an encoder, as float32 numpy arrays with L2-normalised rows.

Images are pulled from their sequence a chunk at a time, so a lazily loaded dataset is never decoded
all at once. Rows are renormalised defensively (a zero row stays zero), so a fake or un-normalised
encoder still gives cosine similarities as dot products.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import numpy as np
import torch
from PIL import Image

from synthmphn.eval.base import Encoder, chunks


def normalise_rows(x: np.ndarray) -> np.ndarray:
    """Rows divided by their L2 norm (rows of norm 0 are left as zeros)."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def _to_numpy(features: object) -> np.ndarray:
    if hasattr(features, "detach"):
        features = features.detach().float().cpu().numpy()  # type: ignore[attr-defined]
    return np.asarray(features, dtype=np.float32)


def image_features(encoder: Encoder, images: Sequence[Image.Image], chunk: int = 256) -> np.ndarray:
    """[N, D] normalised image features; `images` may be any sequence (loaded one chunk at a time)."""
    parts = [_to_numpy(encoder.encode_images(list(part))) for part in chunks(images, chunk)]
    if not parts:
        raise ValueError("no images to encode")
    return normalise_rows(np.concatenate(parts, axis=0))


def text_features(encoder: Encoder, texts: Sequence[str], chunk: int = 1024) -> np.ndarray:
    """[n, D] normalised text features."""
    parts = [_to_numpy(encoder.encode_texts(list(part))) for part in chunks(texts, chunk)]
    if not parts:
        raise ValueError("no texts to encode")
    return normalise_rows(np.concatenate(parts, axis=0))


class CachedEncoder:
    """Wraps an encoder and remembers embeddings by content: an image by a hash of its pixels, a text by itself.

    Tasks that see the same images (real digits in zero-shot, the probe and t-SNE; held-out splits in
    retrieval, compositional and diagnostics) then encode them once per `synthmphn eval`. Exact: the
    same pixels always give the same (eval-mode) embedding.
    """

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder
        self._images: dict[bytes, torch.Tensor] = {}
        self._texts: dict[str, torch.Tensor] = {}

    @staticmethod
    def image_key(image: Image.Image) -> bytes:
        digest = hashlib.blake2b(image.tobytes(), digest_size=16)
        digest.update(f"{image.mode}{image.size}".encode())
        return digest.digest()

    def encode_images(self, images: list[Image.Image]) -> torch.Tensor:
        keys = [self.image_key(image) for image in images]
        return self._encode(images, keys, self._images, self.encoder.encode_images)

    def encode_texts(self, texts: list[str]) -> torch.Tensor:
        return self._encode(texts, list(texts), self._texts, self.encoder.encode_texts)

    @staticmethod
    def _encode(items: list, keys: list, cache: dict, encode: Callable[[list], torch.Tensor]) -> torch.Tensor:
        missing = {}
        for item, key in zip(items, keys, strict=True):
            if key not in cache:
                missing.setdefault(key, item)
        if missing:
            for key, row in zip(missing, encode(list(missing.values())), strict=True):
                cache[key] = row
        return torch.stack([cache[key] for key in keys])
