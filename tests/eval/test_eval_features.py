"""Feature extraction: chunked, renormalised rows; the content cache encodes each image / text once."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from eval_fakes import id_image

from synthmphn.eval.features import CachedEncoder, image_features, normalise_rows, text_features


class CountingEncoder:
    """Embeds an image by its first pixel and a text by its length; counts items encoded."""

    def __init__(self) -> None:
        self.images = self.texts = 0

    def encode_images(self, images: list) -> torch.Tensor:
        self.images += len(images)
        return torch.tensor([[float(im.getpixel((0, 0))[0]), 1.0] for im in images])

    def encode_texts(self, texts: list[str]) -> torch.Tensor:
        self.texts += len(texts)
        return torch.tensor([[float(len(t)), 0.0] for t in texts])


def test_rows_are_normalised_and_zero_rows_stay_zero() -> None:
    rows = normalise_rows(np.array([[3.0, 4.0], [0.0, 0.0]]))
    assert np.allclose(rows, [[0.6, 0.8], [0.0, 0.0]])
    features = image_features(CountingEncoder(), [id_image(i) for i in range(5)], chunk=2)
    assert features.shape == (5, 2) and np.allclose(np.linalg.norm(features, axis=1), 1)
    with pytest.raises(ValueError, match="no images"):
        image_features(CountingEncoder(), [])


def test_cache_encodes_each_content_once() -> None:
    inner = CountingEncoder()
    cached = CachedEncoder(inner)
    images = [id_image(i) for i in (1, 2, 1)]
    first = cached.encode_images(images)
    again = cached.encode_images([id_image(2), id_image(3)])
    assert inner.images == 3  # ids 1, 2, then only 3
    assert torch.equal(first[1], again[0]) and torch.equal(first[0], first[2])
    assert text_features(cached, ["ab", "abc", "ab"]).shape == (3, 2) and inner.texts == 2
