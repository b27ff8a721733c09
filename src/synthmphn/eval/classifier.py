"""A small supervised CNN on images with labels: the reference classifier's and the transfer ceiling's model.

Images become float arrays at a fixed side (`pixels`): RGB, or grey with canonical polarity (ink darker
than paper, each image rescaled to [0, 1]) so that a classifier trained on renders in any colour can be
applied to real scans; the polarity rule is a fixed preprocessing step, it learns nothing from real data.
The net: three 3x3 conv blocks (32, 64, 128 channels; batch norm, ReLU, 2x2 max-pool after the first
two), max-pooled to 4x4, a linear layer to the embedding, and (leaky ReLU) a linear layer over the classes. Training: AdamW, cosine
learning rate, random shifts of up to 2 px, a fixed seed, CPU friendly (seconds per thousand images).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch import nn


def pixels(
    images: Sequence[Image.Image], side: int = 32, grey: bool = False, centre: bool = False
) -> np.ndarray:
    """[N, C, side, side] float32 in [0, 1] (C = 3, or 1 with `grey`: ink dark, min-max stretched).

    `centre` (grey only) applies MNIST's own normalisation to every image: the ink's bounding box scaled
    to fit 20/28 of the side, centred by its centre of mass (LeCun et al. 1998).
    """
    out = np.empty((len(images), 1 if grey else 3, side, side), dtype=np.float32)
    for i, image in enumerate(images):
        if grey:
            array = canonical_polarity(np.asarray(image.convert("L"), dtype=np.float32) / 255.0)
            out[i, 0] = mnist_normalised(array, side) if centre else _resized(array, side)
        else:
            resized = image.convert("RGB").resize((side, side), Image.Resampling.BILINEAR)
            out[i] = np.asarray(resized, dtype=np.float32).transpose(2, 0, 1) / 255.0
    return out


def _resized(grey: np.ndarray, side: int) -> np.ndarray:
    if grey.shape == (side, side):
        return grey
    image = Image.fromarray(grey.astype(np.float32), mode="F").resize((side, side), Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.float32)


def mnist_normalised(grey: np.ndarray, side: int) -> np.ndarray:
    """Dark-on-light grey -> ink box fit into 20/28 of `side`, centred by mass; returned dark on light."""
    ink = 1.0 - grey
    rows, cols = np.flatnonzero(ink.max(axis=1) > 0.35), np.flatnonzero(ink.max(axis=0) > 0.35)
    if len(rows) == 0 or len(cols) == 0:
        return _resized(grey, side)
    box = np.ascontiguousarray(ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1], dtype=np.float32)
    inner = side * 20 / 28
    scale = inner / max(box.shape)
    h, w = max(1, round(box.shape[0] * scale)), max(1, round(box.shape[1] * scale))
    small = np.asarray(
        Image.fromarray(box, mode="F").resize((w, h), Image.Resampling.BILINEAR), dtype=np.float32
    )
    total = float(small.sum())
    cy = float((small.sum(axis=1) * np.arange(h)).sum() / total) if total > 0 else h / 2
    cx = float((small.sum(axis=0) * np.arange(w)).sum() / total) if total > 0 else w / 2
    y0, x0 = int(round(side / 2 - cy)), int(round(side / 2 - cx))
    y0, x0 = min(max(y0, 0), side - h), min(max(x0, 0), side - w)
    canvas = np.zeros((side, side), dtype=np.float32)
    canvas[y0 : y0 + h, x0 : x0 + w] = np.clip(small, 0, 1)
    return 1.0 - canvas


def canonical_polarity(grey: np.ndarray) -> np.ndarray:
    """A grey image with its border (the paper) light, flattened, stretched so paper = 1 and the darkest ink = 0.

    Flattening subtracts the plane a + b x + c y fit (least squares) to the border pixels, so a lit or
    graded background becomes even paper; a plain scan (MNIST) is unchanged.
    """
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    if np.median(border) < grey.mean():  # light ink on dark paper: invert
        grey, border = 1.0 - grey, 1.0 - border
    h, w = grey.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    edge = np.concatenate
    design = np.stack([np.ones(len(border)), edge([xx[0], xx[-1], xx[:, 0], xx[:, -1]]),
                       edge([yy[0], yy[-1], yy[:, 0], yy[:, -1]])], axis=1)  # fmt: skip
    a, b, c = np.linalg.lstsq(design, border, rcond=None)[0]
    paper = float(np.median(border))
    grey = (grey + (paper - (a + b * xx + c * yy))).astype(np.float32)
    low = float(grey.min())
    if paper - low < 1e-3:  # nothing darker than the paper: a blank page
        return np.ones_like(grey)
    return np.clip((grey - low) / (paper - low), 0.0, 1.0).astype(np.float32)


class SmallCNN(nn.Module):
    """conv(32) -> pool -> conv(64) -> pool -> conv(128) -> 4x4 max -> embedding -> linear(classes)."""

    def __init__(self, in_channels: int, n_classes: int, width: int = 32) -> None:
        super().__init__()

        def block(cin: int, cout: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

        self.features = nn.Sequential(
            *block(in_channels, width),
            nn.MaxPool2d(2),
            *block(width, 2 * width),
            nn.MaxPool2d(2),
            *block(2 * width, 4 * width),
            nn.AdaptiveMaxPool2d(4),
            nn.Flatten(),
            nn.Linear(4 * width * 16, 4 * width),
        )
        # leaky: a plain ReLU here can die for every input (all-zero embeddings, constant logits)
        self.head = nn.Sequential(nn.LeakyReLU(0.1), nn.Linear(4 * width, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits [N, n_classes]."""
        return self.head(self.features(x))


@dataclass(frozen=True)
class TrainSettings:
    """How the small CNN is trained (defaults: a few minutes of one CPU core for ~10k 32 px images)."""

    epochs: int = 12
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 5e-4
    shift: int = 2
    width: int = 32
    seed: int = 0


def _shifted(batch: torch.Tensor, shift: int, generator: torch.Generator) -> torch.Tensor:
    if shift <= 0:
        return batch
    dy, dx = (int(v) for v in torch.randint(-shift, shift + 1, (2,), generator=generator))
    return torch.roll(batch, shifts=(dy, dx), dims=(2, 3))


def train_classifier(x: np.ndarray, y: np.ndarray, n_classes: int, settings: TrainSettings) -> SmallCNN:
    """A `SmallCNN` fit to (x [N, C, H, W], y [N]) with cross-entropy; deterministic for a seed."""
    if len(x) == 0:
        raise ValueError("a classifier needs at least one training image")
    torch.manual_seed(settings.seed)
    generator = torch.Generator().manual_seed(settings.seed)
    model = SmallCNN(x.shape[1], n_classes, settings.width)
    optimiser = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    inputs, targets = torch.from_numpy(x), torch.from_numpy(np.asarray(y, dtype=np.int64))
    steps_per_epoch = math.ceil(len(x) / settings.batch_size)
    total = settings.epochs * steps_per_epoch
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: 0.5 * (1 + math.cos(math.pi * min(step, total) / total))
    )
    model.train()
    for _ in range(settings.epochs):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), settings.batch_size):
            rows = order[start : start + settings.batch_size]
            if len(rows) < 2:  # batch norm needs two rows
                continue
            batch = _shifted(inputs[rows], settings.shift, generator)
            loss = nn.functional.cross_entropy(model(batch), targets[rows])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
    return model.eval()


@torch.no_grad()
def logits_and_embeddings(
    model: SmallCNN, x: np.ndarray, batch_size: int = 512
) -> tuple[np.ndarray, np.ndarray]:
    """(class logits [N, K], L2-normalised embeddings [N, D]) of arrays made by `pixels`."""
    model.eval()
    logits, embeddings = [], []
    for start in range(0, len(x), batch_size):
        features = model.features(torch.from_numpy(x[start : start + batch_size]))
        logits.append(model.head(features).numpy())
        embeddings.append(nn.functional.normalize(features, dim=1).numpy())
    if not logits:
        linear = model.head[1]
        return np.zeros((0, linear.out_features), np.float32), np.zeros((0, linear.in_features), np.float32)
    return np.concatenate(logits), np.concatenate(embeddings)
