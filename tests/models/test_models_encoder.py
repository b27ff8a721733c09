"""`ClipEncoder`: normalised float32 embeddings, batching-invariant, no grad, model mode restored."""

import numpy as np
import pytest
import torch
from PIL import Image

from synthmphn.models import ClipEncoder, create_clip


@pytest.fixture(scope="module")
def parts():
    torch.manual_seed(2)
    return create_clip("synth-tiny-vit")


def images(count: int) -> list[Image.Image]:
    rng = np.random.default_rng(3)
    return [Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)) for _ in range(count)]


def test_embeddings_are_normalised_float32_without_grad(parts):
    encoder = ClipEncoder(parts)
    for features in (encoder.encode_images(images(3)), encoder.encode_texts(["a", "b red", "c blue cube"])):
        assert features.shape == (3, 128) and features.dtype == torch.float32
        assert not features.requires_grad and features.device.type == "cpu"
        torch.testing.assert_close(features.norm(dim=1), torch.ones(3))


def test_batching_does_not_change_the_result(parts):
    pictures, texts = images(5), [f"caption {i}" for i in range(5)]
    small, large = ClipEncoder(parts, batch_size=2), ClipEncoder(parts, batch_size=256)
    torch.testing.assert_close(small.encode_images(pictures), large.encode_images(pictures))
    torch.testing.assert_close(small.encode_texts(texts), large.encode_texts(texts))


def test_image_tensor_path_matches_pil_path(parts):
    encoder, pictures = ClipEncoder(parts), images(2)
    pixels = torch.stack([parts.preprocess_val(p) for p in pictures])
    torch.testing.assert_close(encoder.encode_image_tensor(pixels), encoder.encode_images(pictures))


def test_grayscale_images_are_converted_to_rgb(parts):
    grey = [image.convert("L") for image in images(2)]
    assert ClipEncoder(parts).encode_images(grey).shape == (2, 128)


def test_empty_inputs_and_training_mode(parts):
    encoder = ClipEncoder(parts)
    parts.model.train()
    assert encoder.encode_images([]).shape == (0, 128)
    assert encoder.encode_texts([]).shape == (0, 128)
    encoder.encode_texts(["x"])
    assert parts.model.training  # restored after encoding in eval mode
    with pytest.raises(ValueError, match="batch_size"):
        ClipEncoder(parts, batch_size=0)
