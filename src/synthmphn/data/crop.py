"""Random resized crops of a whole batch in one tensor op (the in-memory loader's augmentation).

The crop is torchvision's `RandomResizedCrop` (open_clip's train augmentation; ours: scale 0.8–1.0, aspect
3/4–4/3, bicubic), re-expressed for uint8 tensors so that a batch of B·m images is cropped and resized in one
pair of batched matrix products in the training process instead of image by image with PIL in a DataLoader worker.

Box. For an H × W image, up to 10 tries draw an area fraction s ~ U(scale) and a log aspect a ~ U(log ratio),
and take w = round(√(s·H·W·eᵃ)), h = round(√(s·H·W/eᵃ)) if the box fits, at a uniform offset
top ~ U{0..H−h}, left ~ U{0..W−w}. If no try fits, the centre crop with the aspect clamped to `ratio`.
The draws come from a `random.Random` seeded per caption, so a crop depends only on (run seed, step, caption).

Resize. Output pixel (u, v) of an S × S crop samples the input at pixel coordinates

    x = left + (u + ½)·w/S − ½,    y = top + (v + ½)·h/S − ½

(pixel centres, as PIL's resize maps them) with bicubic interpolation (torch's cubic kernel, a = −0.75; PIL
uses a = −0.5), computed as two small matrix products per crop, and the border pixels repeated outside the image; values are rounded and clamped to 0..255 as
PIL's uint8 output is. A crop never exceeds its image, and the image is already at the model's size, so the
resize only enlarges and needs no antialiasing.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import torch

Box = tuple[int, int, int, int]
"""(top, left, height, width) of a crop, in pixels."""


@dataclass(frozen=True)
class CropSpec:
    """A random resized crop to `size` × `size`: area fraction range `scale`, aspect (w/h) range `ratio`."""

    size: int
    scale: tuple[float, float]
    ratio: tuple[float, float]


def crop_box(rng: random.Random, height: int, width: int, spec: CropSpec, tries: int = 10) -> Box:
    """A random (top, left, h, w) box of an `height` × `width` image (the sampling in the module docstring)."""
    area = height * width
    low, high = math.log(spec.ratio[0]), math.log(spec.ratio[1])
    for _ in range(tries):
        target = area * rng.uniform(*spec.scale)
        aspect = math.exp(rng.uniform(low, high))
        w, h = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            return rng.randint(0, height - h), rng.randint(0, width - w), h, w
    return centre_box(height, width, spec.ratio)


def centre_box(height: int, width: int, ratio: tuple[float, float]) -> Box:
    """The largest centred box whose aspect w/h lies in `ratio` (RandomResizedCrop's fallback)."""
    aspect = width / height
    if aspect < min(ratio):
        w, h = width, round(width / min(ratio))
    elif aspect > max(ratio):
        h, w = height, round(height * max(ratio))
    else:
        h, w = height, width
    return (height - h) // 2, (width - w) // 2, h, w


CUBIC_A = -0.75
"""The cubic convolution kernel's parameter (torch's bicubic; PIL uses −0.5)."""

TAPS = torch.tensor([-1.0, 0.0, 1.0, 2.0])
"""Offsets of the four input pixels a cubic interpolation reads, from floor(x)."""


def cubic_kernel(distance: torch.Tensor) -> torch.Tensor:
    """Keys' cubic convolution weight at `distance` (a = `CUBIC_A`): 1 at 0, 0 at ±1 and beyond ±2."""
    d, a = distance.abs(), CUBIC_A
    near = ((a + 2) * d - (a + 3)) * d * d + 1
    far = ((d - 5) * d + 8) * d * a - 4 * a
    return torch.where(d <= 1, near, torch.where(d < 2, far, torch.zeros_like(d)))


def resize_matrices(start: torch.Tensor, length: torch.Tensor, size: int, extent: int) -> torch.Tensor:
    """[n, size, extent]: row u of matrix k interpolates output pixel u of the span (start[k], length[k]).

    Output pixel u samples x = start + (u + ½)·length/size − ½ from the four pixels floor(x) − 1 .. floor(x) + 2,
    weighted by the cubic kernel of their distance to x, indices clamped to 0..extent − 1 (the border repeated).
    """
    x = start[:, None] + (torch.arange(size) + 0.5) * length[:, None] / size - 0.5  # [n, size]
    base = x.floor()
    weights = cubic_kernel((x - base)[..., None] - TAPS)  # [n, size, 4]
    columns = (base[..., None] + TAPS).clamp_(0, extent - 1).long()
    return torch.zeros(len(start), size, extent).scatter_add_(2, columns, weights)


def resized_crops(pixels: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """Crops `boxes` [n, 4] (top, left, h, w) of uint8 `pixels` [n, 3, H, W] and resizes each to size × size.

    Bicubic interpolation is separable, so each crop is two small matrix products, rows then columns:
    out[k] = R_y[k] · image[k] · R_x[k]ᵀ with `resize_matrices` (the same values as `grid_sample`'s bicubic
    with border padding, up to summation order). Returns float32 [n, 3, size, size] holding whole numbers
    in 0..255 (the sampling in the module docstring).
    """
    count, channels, height, width = pixels.shape
    top, left, h, w = boxes.to(torch.float32).unbind(dim=1)
    # one matrix per image and channel, contiguous: bmm on a transposed or broadcast operand is ~5x slower here
    rows = resize_matrices(top, h, size, height).repeat_interleave(channels, dim=0)  # [n·3, size, H]
    columns = resize_matrices(left, w, size, width).transpose(1, 2).contiguous()
    columns = columns.repeat_interleave(channels, dim=0)  # [n·3, W, size]
    planes = pixels.to(torch.float32).reshape(count * channels, height, width)
    resized = torch.bmm(torch.bmm(rows, planes), columns)
    return resized.reshape(count, channels, size, size).round_().clamp_(0, 255)
