"""A caption's m images through the train transform with one tensor conversion instead of m.

open_clip's train transform is `Compose([PIL steps ..., ToTensor, Normalize])`. Run per image, the two
tensor steps cost more than the PIL crop itself at 32 px (numpy copy, permute, float conversion and
normalisation on 3 072 values each time), and they run in the DataLoader worker, which shares the
machine's cores with training. `split_transform` keeps the PIL steps per image and does

    x = (uint8 pixels [m, 3, H, W] → float32) / 255,   x = (x − mean[c]) / std[c]

once over the m images. Division and subtraction are correctly rounded, so every value equals the
per-image result bit for bit, and the PIL steps draw the same random numbers in the same order.
A transform of any other shape (or an image that is not RGB after the PIL steps) runs unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
from PIL import Image
from torchvision import transforms as T

Transform = Callable[[Image.Image], torch.Tensor]


@dataclass(frozen=True)
class SplitTransform:
    """A train transform as its PIL steps, its ToTensor + Normalize pair, and Normalize's statistics."""

    pil_steps: Callable[[Image.Image], Image.Image]
    tensor_steps: Transform
    mean: torch.Tensor  # [3, 1, 1]
    std: torch.Tensor  # [3, 1, 1]

    def __call__(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """[m, 3, H, W] float32: the PIL steps per image, then one conversion over all m (RGB images)."""
        shaped = [self.pil_steps(image) for image in images]
        if any(image.mode != "RGB" for image in shaped):  # ToTensor scales other modes its own way
            return torch.stack([self.tensor_steps(image) for image in shaped])
        pixels = torch.from_numpy(np.stack([np.asarray(image, dtype=np.uint8) for image in shaped]))
        return self.normalise(pixels.permute(0, 3, 1, 2).contiguous())

    @cached_property
    def affine(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(scale, shift) [3, 1, 1] with `normalise`(x) = x·scale + shift up to float rounding:
        1 / (255·std) and −mean / std."""
        return 1 / (255 * self.std), -self.mean / self.std

    def normalise(self, pixels: torch.Tensor) -> torch.Tensor:
        """[n, 3, H, W] pixel values 0..255 (uint8, or whole numbers as floats) → ToTensor + Normalize's floats."""
        floats = pixels.to(torch.get_default_dtype()).div(255)
        return floats.sub_(self.mean).div_(self.std)


def split_transform(transform: Transform) -> SplitTransform | None:
    """The split form of `Compose([PIL steps..., ToTensor, Normalize])` (3 channels), else None."""
    steps = list(getattr(transform, "transforms", []))
    if len(steps) < 2 or type(steps[-1]) is not T.Normalize or not isinstance(steps[-2], T.ToTensor):
        return None
    normalize = steps[-1]
    if len(normalize.mean) != 3 or len(normalize.std) != 3:
        return None
    dtype = torch.get_default_dtype()
    return SplitTransform(
        pil_steps=T.Compose(steps[:-2]),
        tensor_steps=T.Compose(steps[-2:]),
        mean=torch.as_tensor(normalize.mean, dtype=dtype).view(-1, 1, 1),
        std=torch.as_tensor(normalize.std, dtype=dtype).view(-1, 1, 1),
    )
