"""Small raster helpers on float32 numpy arrays in [0, 1]: coordinate grids, smooth noise, warps, filters.

Masks are [H, W]; colour canvases are channel-first [3, H, W], because numpy broadcasts a mask over a
leading channel axis several times faster than over a trailing one of length 3. Everything here is
cheap at 128 px (a render at 2x of a 64 px image) and takes an explicit numpy Generator.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageFilter


@lru_cache(maxsize=64)
def grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates normalised to [0, 1): (y, x), each float32 [height, width] (read-only)."""
    ys = (np.arange(height, dtype=np.float32) + 0.5) / height
    xs = (np.arange(width, dtype=np.float32) + 0.5) / width
    y, x = np.meshgrid(ys, xs, indexing="ij")
    y.setflags(write=False)
    x.setflags(write=False)
    return y, x


def smooth_noise(rng: np.random.Generator, height: int, width: int, cells: int) -> np.ndarray:
    """Value noise in [0, 1]: a random `cells`x`cells` lattice upsampled bicubically to [height, width]."""
    lattice = rng.random((cells, cells), dtype=np.float32)
    image = Image.fromarray(lattice).resize((width, height), Image.Resampling.BICUBIC)
    return np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)


def warp(mask: np.ndarray, dy: np.ndarray, dx: np.ndarray) -> np.ndarray:
    """Bilinear resampling of a [H, W] mask at (y + dy, x + dx) pixel offsets (edges clamped)."""
    h, w = mask.shape
    if h < 2 or w < 2:
        return mask
    yy, xx = np.meshgrid(np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32), indexing="ij")
    sy = np.clip(yy + dy, 0, h - 1.001)
    sx = np.clip(xx + dx, 0, w - 1.001)
    y0, x0 = sy.astype(np.int32), sx.astype(np.int32)
    fy, fx = sy - y0, sx - x0
    top = mask[y0, x0] * (1 - fx) + mask[y0, x0 + 1] * fx
    bottom = mask[y0 + 1, x0] * (1 - fx) + mask[y0 + 1, x0 + 1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32)


def elastic(mask: np.ndarray, rng: np.random.Generator, amplitude: float, cells: int = 4) -> np.ndarray:
    """Elastic distortion (Simard et al. 2003 style): a smooth random displacement of up to `amplitude` px."""
    if amplitude <= 0:
        return mask
    h, w = mask.shape
    dy = (smooth_noise(rng, h, w, cells) - 0.5) * 2 * amplitude
    dx = (smooth_noise(rng, h, w, cells) - 0.5) * 2 * amplitude
    return warp(mask, dy, dx)


def to_l_image(array: np.ndarray) -> Image.Image:
    """A float [H, W] array in [0, 1] as an 8-bit 'L' image."""
    return Image.fromarray((np.clip(array, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8))


def from_l_image(image: Image.Image) -> np.ndarray:
    """An 'L' image as float32 [H, W] in [0, 1]."""
    return np.asarray(image, dtype=np.float32) * (1.0 / 255.0)


def blur(array: np.ndarray, radius: float) -> np.ndarray:
    """Gaussian blur of a float [H, W] mask via PIL (fast C code)."""
    if radius <= 0:
        return array
    return from_l_image(to_l_image(array).filter(ImageFilter.GaussianBlur(radius)))


def _shifted_min(mask: np.ndarray) -> np.ndarray:
    """One step of erosion with a 3x3 cross: each pixel becomes the min of itself and its 4 neighbours."""
    out = mask.copy()
    np.minimum(out[1:], mask[:-1], out=out[1:])
    np.minimum(out[:-1], mask[1:], out=out[:-1])
    np.minimum(out[:, 1:], mask[:, :-1], out=out[:, 1:])
    np.minimum(out[:, :-1], mask[:, 1:], out=out[:, :-1])
    return out


def erode(mask: np.ndarray, pixels: int) -> np.ndarray:
    """Grey erosion by `pixels` steps of a 3x3 cross (numpy; PIL's rank filter is ~50x slower)."""
    for _ in range(max(pixels, 0)):
        mask = _shifted_min(mask)
    return mask


def outline(mask: np.ndarray, pixels: int) -> np.ndarray:
    """A band of width `pixels` just inside the mask's edge (mask minus its erosion)."""
    return np.clip(mask - erode(mask, pixels), 0.0, 1.0)


def to_uint8(canvas: np.ndarray) -> np.ndarray:
    """Float array in [0, 1] -> uint8 with rounding (same shape)."""
    return (np.clip(canvas, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def to_image(canvas: np.ndarray) -> Image.Image:
    """Float [3, H, W] canvas -> RGB image."""
    return Image.fromarray(np.ascontiguousarray(to_uint8(canvas).transpose(1, 2, 0)))


def from_image(image: Image.Image) -> np.ndarray:
    """RGB image -> float [3, H, W] canvas in [0, 1]."""
    return np.asarray(image.convert("RGB"), dtype=np.float32).transpose(2, 0, 1) * (1.0 / 255.0)


def solid(rgb: tuple[float, ...] | np.ndarray, height: int, width: int) -> np.ndarray:
    """A [3, H, W] canvas of one colour."""
    return np.broadcast_to(np.asarray(rgb, dtype=np.float32)[:, None, None], (3, height, width)).copy()


def mix(a: np.ndarray, b: np.ndarray | tuple[float, ...], alpha: np.ndarray | float) -> np.ndarray:
    """a * (1 - alpha) + b * alpha for canvases [3, H, W]; `b` may be a colour, `alpha` a [H, W] mask."""
    b_arr = np.asarray(b, dtype=np.float32)
    if b_arr.ndim == 1:
        b_arr = b_arr[:, None, None]
    return a + (b_arr - a) * alpha
