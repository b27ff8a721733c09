"""Training batches gathered in the training process from a train split decoded once into memory.

Why. On a 2-core machine a DataLoader worker shares the cores with the two training threads: in the
quickstart it spent ~40 ms of CPU per batch (PIL crops, torchvision's per-image crop sampling, tokenising),
and the training step, whose threads wait for each other, lost more than that — the real loop ran at
0.167–0.189 s/step against 0.136–0.140 with batches that cost nothing (docs/performance.md).

What. At the start of a run every image of the train split goes once through the val transform's PIL steps
(resize + centre crop to the model's size: the identity for images rendered at that size) and is kept as
uint8 [N, 3, S, S] (the quickstart's split: 19,950 images, 58 MiB, decoded in ~3 s); every caption is
tokenised once. A batch is then a row gather: the m images per caption that `CaptionDataset` also picks
(`data/choice.py`, the whole batch in one sort keyed by (seed, step, group, caption)), with train.augment one
random resized crop over the whole batch (`data/crop.py`, each image's box from counter-based draws keyed by
(seed, step, group, caption, image)), then ToTensor + Normalize's
arithmetic. Without augmentation a batch equals the worker path's bit for bit; with it, the crop is the same
distribution as torchvision's PIL `RandomResizedCrop` but not the same pixels (bicubic a = −0.75 vs PIL's
−0.5, and not rounded to 8 bits), so `train.loader` is part of a run's identity. Every batch depends only on (seed, step, slots), so a
resumed run equals an uninterrupted one.

Where. The whole batch is made in the training process between steps: ~1.6 ms for a quickstart batch alone
(choosing images and boxes 0.55, the crop and normalisation 1.05), ~2.9 ms between real training steps
(each elementwise op 5–10× slower than alone; not the OpenMP threads waking, OMP_WAIT_POLICY=ACTIVE
changes nothing: most likely caches full of the optimiser's writes), 2.3–2.4 % of the loop's time.
Handing the work to a DataLoader worker or a thread was measured slower
(0.132–0.134 and 0.128–0.134 s/step against 0.120–0.128; a thread that chooses the next batch's images only
while the backward pass runs, with the GIL free, 0.124–0.129 against 0.121–0.128): on two hyperthreads of one
core, any other work slows the training threads by about its own time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torchvision import transforms as T

from synthmphn.data.batches import Tokenizer, TrainBatch, assemble_batch
from synthmphn.data.choice import ImageTable
from synthmphn.data.crop import BOX_DRAWS, CropSpec, crop_boxes, resized_crops
from synthmphn.data.pixels import SplitTransform, split_transform
from synthmphn.data.sampler import CaptionSlot
from synthmphn.data.store import GroupStore
from synthmphn.progress import progress
from synthmphn.seeding import counter_uniforms, derive_seed, fold_keys, row_keys

log = logging.getLogger(__name__)

Transform = Callable[[Image.Image], torch.Tensor]


@dataclass(frozen=True)
class MemoryPlan:
    """How the in-memory loader turns a stored image into a training input: the val transform's PIL steps
    and normalisation (`pixels`), then the random resized crop `crop` (None without augmentation)."""

    pixels: SplitTransform
    crop: CropSpec | None


def memory_plan(train_transform: Transform, val_transform: Transform) -> MemoryPlan | None:
    """The plan for open_clip's transforms: val = Compose([Resize, CenterCrop, mode, ToTensor, Normalize]),
    train = the same object (no augmentation) or Compose([RandomResizedCrop, the val steps after the centre
    crop]) with a square bicubic crop. Any other transform (extra random steps) gives None (DataLoader workers).
    """
    pixels = split_transform(val_transform)
    if pixels is None:
        return None
    if train_transform is val_transform:
        return MemoryPlan(pixels, None)
    train_steps, val_steps = getattr(train_transform, "transforms", []), val_transform.transforms  # type: ignore[attr-defined]
    if not train_steps or type(train_steps[0]) is not T.RandomResizedCrop:
        return None
    crop = train_steps[0]
    if [type(t) for t in train_steps[1:]] != [type(t) for t in val_steps[2:]]:
        return None
    normalize = train_steps[-1]
    same_stats = tuple(normalize.mean) == tuple(val_steps[-1].mean) and tuple(normalize.std) == tuple(
        val_steps[-1].std
    )
    if not same_stats or crop.size[0] != crop.size[1] or crop.interpolation != T.InterpolationMode.BICUBIC:
        return None
    return MemoryPlan(pixels, CropSpec(crop.size[0], tuple(crop.scale), tuple(crop.ratio)))


@dataclass(frozen=True)
class Selection:
    """What one batch is made of: its slots, the pixel rows of its m images per slot (slot by slot), their
    crop boxes and the slots' token rows."""

    slots: list[CaptionSlot]
    per_caption: int
    rows: np.ndarray  # int64 [slots · m]
    boxes: torch.Tensor | None  # int64 [images, 4] (top, left, h, w); None without augmentation
    token_rows: np.ndarray  # int64 [slots]


@dataclass
class MemoryBatches:
    """Callable slots -> `TrainBatch` over a split held in memory (module docstring). Build with `load`."""

    images_per_caption: int
    plan: MemoryPlan
    seed: int
    table: ImageTable  # the split's captions and images; entry i of the table is pixel row i
    pixels: torch.Tensor  # uint8 [N, 3, S, S]
    tokens: torch.Tensor  # [C, L], row c the table's caption c

    @classmethod
    def load(
        cls,
        store: GroupStore,
        images_per_caption: int,
        plan: MemoryPlan,
        tokenizer: Tokenizer,
        seed: int,
        budget_bytes: int,
    ) -> MemoryBatches | None:
        """Decodes and tokenises the whole split; None when its pixels would exceed `budget_bytes` or the
        tokenizer's width depends on the texts in a call (then a batch could not reuse per-caption rows)."""
        table = ImageTable.of_groups(store.groups)
        keys = [(g, r.key) for g, neg in table.captions for r in store.caption_images(g, neg)]
        first = pil_pixels(plan.pixels, store.image(*keys[0]))
        if len(keys) * first.numel() > budget_bytes:
            log.info("train split: %d images need %d MiB decoded", len(keys), len(keys) * first.numel() >> 20)
            return None
        texts = [store.caption(g, neg) for g, neg in table.captions]
        tokens = tokenizer(texts)
        if tokenizer(texts[:1]).shape[1] != tokens.shape[1]:
            return None
        pixels = torch.empty((len(keys), *first.shape), dtype=torch.uint8)
        for row, key in enumerate(progress(keys, desc="decode train split", unit="image")):
            pixels[row] = pil_pixels(plan.pixels, store.image(*key))
        return cls(images_per_caption, plan, seed, table, pixels, tokens)

    @property
    def nbytes(self) -> int:
        """Bytes of decoded pixels held."""
        return self.pixels.numel()

    def __call__(self, slots: Sequence[CaptionSlot]) -> TrainBatch:
        """The batch of `slots`: m images per caption (cropped with augmentation), normalised, and tokens."""
        return self.assemble(self.select(slots))

    def select(self, slots: Sequence[CaptionSlot]) -> Selection:
        """Which pixel rows, crop boxes and token rows make the batch of `slots`: the m images per caption
        `ImageTable.choose_slots` picks (as `CaptionDataset` does), and one box per image from counter-based draws
        keyed by (seed, step, group, caption, image) (`data/crop.py`)."""
        m = self.images_per_caption
        choice = self.table.choose_slots(slots, self.seed, m)
        ids, rows = choice.ids, choice.entries.ravel()
        boxes = None
        if self.plan.crop is not None:
            slot_keys = row_keys(derive_seed(self.seed, "augment"), ids)  # row_keys folds column by column
            keys = fold_keys(np.repeat(slot_keys, m), np.tile(np.arange(m), len(ids)))
            size = self.pixels.shape[-1]
            boxes = torch.from_numpy(
                crop_boxes(counter_uniforms(keys, BOX_DRAWS), size, size, self.plan.crop)
            )
        return Selection(list(slots), m, rows, boxes, choice.captions)

    def assemble(self, selection: Selection) -> TrainBatch:
        """The tensors of a selection: gathered pixels, one batched crop, normalisation, gathered tokens."""
        images = self.pixels.index_select(0, torch.from_numpy(selection.rows))
        if selection.boxes is None:
            pixels = self.plan.pixels.normalise(images)
        else:
            size = self.plan.crop.size  # type: ignore[union-attr]
            pixels = resized_crops(images, selection.boxes, size, *self.plan.pixels.affine)
        tokens = self.tokens.index_select(0, torch.from_numpy(selection.token_rows))
        per_caption = [selection.per_caption] * len(selection.slots)
        return assemble_batch(selection.slots, per_caption, pixels, tokens)


def pil_pixels(pixels: SplitTransform, image: Image.Image) -> torch.Tensor:
    """uint8 [3, S, S]: `image` through the plan's PIL steps (resize + centre crop + mode)."""
    shaped = pixels.pil_steps(image)  # the store decodes as RGB, and the steps keep it so
    return torch.from_numpy(np.array(shaped, dtype=np.uint8)).permute(2, 0, 1).contiguous()
