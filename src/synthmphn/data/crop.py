"""Random resized crops of a whole batch in one tensor op (the in-memory loader's augmentation).

The crop is torchvision's `RandomResizedCrop` (open_clip's train augmentation; ours: scale 0.8–1.0, aspect
3/4–4/3, bicubic), re-expressed for uint8 tensors so that a batch of B·m images is cropped and resized in one
pair of batched matrix products in the training process instead of image by image with PIL in a DataLoader worker.

Box. For an H × W image, up to 10 tries draw an area fraction s ~ U(scale) and a log aspect a ~ U(log ratio),
and take w = round(√(s·H·W·eᵃ)), h = round(√(s·H·W/eᵃ)) if the box fits, at a uniform offset
top ~ U{0..H−h}, left ~ U{0..W−w}. If no try fits, the centre crop with the aspect clamped to `ratio`.
The draws are counter-based (`seeding.counter_uniforms`), keyed per image by (run seed, step, group, caption,
image), so a crop depends only on those and a batch's boxes take a few array operations.

Resize. Output pixel (u, v) of an S × S crop samples the input at pixel coordinates

    x = left + (u + ½)·w/S − ½,    y = top + (v + ½)·h/S − ½

(pixel centres, as PIL's resize maps them) with bicubic interpolation (torch's cubic kernel, a = −0.75; PIL
uses a = −0.5), computed as two small matrix products per crop, and the border pixels repeated outside the image; values are rounded and clamped to 0..255 as
PIL's uint8 output is. A crop never exceeds its image, and the image is already at the model's size, so the
resize only enlarges and needs no antialiasing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np
import torch

TRIES = 10
"""Box draws before falling back to the centre crop (torchvision's RandomResizedCrop)."""


@dataclass(frozen=True)
class CropSpec:
    """A random resized crop to `size` × `size`: area fraction range `scale`, aspect (w/h) range `ratio`."""

    size: int
    scale: tuple[float, float]
    ratio: tuple[float, float]


BOX_DRAWS = 2 * TRIES + 2
"""Uniform draws one box takes: an area fraction and a log aspect per try, then the top and left offsets."""


def crop_boxes(uniforms: np.ndarray, height: int, width: int, spec: CropSpec) -> np.ndarray:
    """int64 [n, 4] (top, left, h, w) boxes of an `height` × `width` image, one per row of `uniforms`
    [n, BOX_DRAWS] (floats in [0, 1)): try t uses columns t (area) and TRIES + t (aspect), the first try
    that fits wins, and the last two columns place it (the sampling in the module docstring, for a whole
    batch at once)."""
    area, (low, high) = height * width, (math.log(spec.ratio[0]), math.log(spec.ratio[1]))
    target = area * (spec.scale[0] + (spec.scale[1] - spec.scale[0]) * uniforms[:, :TRIES])
    aspect = np.exp(low + (high - low) * uniforms[:, TRIES : 2 * TRIES])
    w, h = np.rint(np.sqrt(target * aspect)), np.rint(np.sqrt(target / aspect))  # half to even, as round()
    fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    rows, first = np.arange(len(uniforms)), fits.argmax(axis=1)
    h, w = h[rows, first].astype(np.int64), w[rows, first].astype(np.int64)
    top = np.floor(uniforms[:, -2] * (height - h + 1)).astype(np.int64)
    left = np.floor(uniforms[:, -1] * (width - w + 1)).astype(np.int64)
    boxes = np.stack((top, left, h, w), axis=1)
    boxes[~fits.any(axis=1)] = centre_box(height, width, spec.ratio)
    return boxes


def centre_box(height: int, width: int, ratio: tuple[float, float]) -> tuple[int, int, int, int]:
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


class SpanTable:
    """The `resize_matrices` of every span (start, length) of an axis of `extent` pixels met so far, to `size`
    pixels, also kept transposed: a batch gathers its crops' matrices with one index instead of computing
    them (a 32 px crop meets ~100 distinct spans per axis; the table grows by the spans it has not seen)."""

    def __init__(self, size: int, extent: int) -> None:
        self.size, self.extent = size, extent
        self.slot = np.full(extent * extent, -1, dtype=np.int64)  # span id start·extent + length − 1 -> row
        self.matrices = torch.empty(0, size, extent)
        self.transposed = torch.empty(0, extent, size)

    def gather(self, start: np.ndarray, length: np.ndarray, transposed: bool = False) -> torch.Tensor:
        """[n, size, extent] (or [n, extent, size] `transposed`): the matrices of spans (start[k], length[k])."""
        ids = start * self.extent + length - 1
        new = np.unique(ids[self.slot[ids] < 0])
        if len(new):
            self.slot[new] = np.arange(len(self.matrices), len(self.matrices) + len(new))
            starts, lengths = torch.from_numpy(new // self.extent), torch.from_numpy(new % self.extent + 1)
            fresh = resize_matrices(starts.float(), lengths.float(), self.size, self.extent)
            self.matrices = torch.cat((self.matrices, fresh))
            self.transposed = torch.cat((self.transposed, fresh.transpose(1, 2)))
        table = self.transposed if transposed else self.matrices
        return table.index_select(0, torch.from_numpy(self.slot[ids]))


@cache
def span_table(size: int, extent: int) -> SpanTable:
    """The one `SpanTable` of resizes from `extent` to `size` pixels."""
    return SpanTable(size, extent)


def resized_crops(
    pixels: torch.Tensor, boxes: torch.Tensor, size: int, scale: torch.Tensor, shift: torch.Tensor
) -> torch.Tensor:
    """Crops `boxes` [n, 4] (top, left, h, w) of uint8 `pixels` [n, 3, H, W], resizes each to size × size,
    clamps to the pixel range and maps channel c affinely: float32 [n, 3, size, size] =
    clamp(resize(x), 0, 255)·scale[c] + shift[c] (`scale` > 0 and `shift` [3, 1, 1]: Normalize after ToTensor).

    Bicubic interpolation is separable, so each crop is two small matrix products, columns then rows:
    resize(x)[k] = R_y[k] · x[k] · R_x[k]ᵀ with `resize_matrices` (the same values as `grid_sample`'s bicubic
    with border padding, up to summation order). The channels ride along in the other operand ([3·H, W]
    for the columns, [H, 3·S] for the rows), so each product is one `bmm` over the images on contiguous
    matrices (3× faster here than a matrix per channel). The clamp writes the channel-major layout and the
    affine map runs in place (a fused or broadcast-bounded op is 3-10× slower here). The crop is not rounded
    to 8 bits as PIL's is (a value differs by under half a level).
    """
    count, channels, height, width = pixels.shape
    top, left, h, w = boxes.numpy().T
    rows = span_table(size, height).gather(top, h)  # [n, size, H]
    columns = span_table(size, width).gather(left, w, transposed=True)  # [n, W, size]
    planes = pixels.to(torch.float32).view(count, channels * height, width)
    narrow = torch.bmm(planes, columns)  # [n, 3·H, size]
    narrow = (
        narrow.view(count, channels, height, size).transpose(1, 2).reshape(count, height, channels * size)
    )
    resized = torch.bmm(rows, narrow).view(count, size, channels, size).permute(0, 2, 1, 3)
    out = torch.clamp(resized, 0, 255, out=torch.empty((count, channels, size, size)))
    return out.mul_(scale).add_(shift)
