"""One tensor conversion per caption: bit-identical to running the train transform image by image."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms as T

from synthmphn.data.pixels import split_transform
from synthmphn.models import create_clip


def noisy_images(n: int = 3, size: int = 32) -> list[Image.Image]:
    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8), "RGB") for _ in range(n)]


def per_image(transform: T.Compose, images: list[Image.Image], seed: int) -> torch.Tensor:
    torch.manual_seed(seed)
    return torch.stack([transform(image) for image in images])


def split_run(transform: T.Compose, images: list[Image.Image], seed: int) -> torch.Tensor:
    split = split_transform(transform)
    assert split is not None
    torch.manual_seed(seed)
    return split(images)


@pytest.fixture(scope="module")
def train_transform() -> T.Compose:
    return create_clip("synth-tiny-cnn-32", augment=True).preprocess_train  # type: ignore[return-value]


def test_open_clip_train_transform_splits_bit_identically(train_transform: T.Compose) -> None:
    images = noisy_images()
    for seed in range(5):  # the random crop differs per seed; the values must match exactly each time
        expected = per_image(train_transform, images, seed)
        assert torch.equal(split_run(train_transform, images, seed), expected)


def test_the_split_draws_the_same_random_numbers(train_transform: T.Compose) -> None:
    images = noisy_images()
    split_run(train_transform, images, seed=3)
    after_split = torch.rand(4)
    per_image(train_transform, images, seed=3)
    assert torch.equal(torch.rand(4), after_split)


def test_a_non_rgb_image_takes_the_per_image_tensor_steps() -> None:
    transform = T.Compose(
        [T.RandomResizedCrop(16, scale=(0.5, 1.0)), T.ToTensor(), T.Normalize((0.5,) * 3, (0.25,) * 3)]
    )
    images = [image.convert("YCbCr") for image in noisy_images(size=20)]
    expected = per_image(transform, images, seed=1)
    assert expected.shape == (3, 3, 16, 16)
    assert torch.equal(split_run(transform, images, seed=1), expected)


def test_transforms_of_other_shapes_are_not_split() -> None:
    normalize = T.Normalize((0.5,) * 3, (0.25,) * 3)
    assert split_transform(T.Compose([T.ToTensor(), normalize, T.RandomErasing()])) is None
    assert split_transform(T.Compose([T.Resize(8), T.ToTensor()])) is None
    assert split_transform(T.Compose([T.ToTensor(), T.Normalize((0.5,), (0.25,))])) is None
    assert split_transform(lambda image: torch.zeros(3, 8, 8)) is None  # type: ignore[arg-type]
