"""From caption slots to tensors: the training Dataset (decoding runs in DataLoader workers) and its collate.

The batch sampler yields lists of `CaptionSlot`; the DataLoader hands each slot to `CaptionDataset`, which
decodes m images of that caption (train.images_per_caption) and applies the train transform, then
`collate_slots` stacks a batch of B slots into a `TrainBatch`:

    images            [B·m, 3, H, W]  slot j's images at rows j·m ... j·m + m − 1
    tokens            [B, L]          the tokenised captions
    image_caption     [B·m]           j for each of slot j's images
    text_partner      [B]             the partner slot's row (base <-> HN) or -1 for a single
    text_is_negative  [B]             True for HN captions

Which m images (data/choice.py, shared with the in-memory loader): a caption's images are ordered so that
distinct generators come first (a round robin over the generators in a random order), then the first m are
taken. So with `msm-all` data and m = 2 a caption gets two different generators. An image the gate
down-weighted (`ImageRecord.weight` = w < 1) is eligible at a given step with probability w (a seeded draw)
and otherwise goes behind every eligible image, so it is drawn about w times as often as before while every
slot still gets m images (equal images per step). Choice and augmentation are seeded by (seed, step, group,
caption), so a batch is the same whatever the number of workers and whether the run was resumed.

Each image is decoded once per worker: decoded RGB images are kept (up to `cache_bytes` of pixels per
worker, 512 MiB by default; the quickstart's whole training split is ~60 MB at 32 px), so from the second
epoch on a worker only transforms. The transform gets the same PIL image either way, so batches do not change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from synthmphn.data.choice import ImageTable
from synthmphn.data.pixels import split_transform
from synthmphn.data.records import Group
from synthmphn.data.sampler import CaptionSlot
from synthmphn.data.shards import ShardError
from synthmphn.data.store import GroupStore
from synthmphn.seeding import derive_seed

Transform = Callable[[Image.Image], torch.Tensor]
Tokenizer = Callable[[list[str]], torch.Tensor]

DEFAULT_CACHE_BYTES = 512 * 2**20
"""Decoded pixels a `CaptionDataset` keeps per process (bytes); 0 decodes every image on every use."""


@dataclass
class SlotSample:
    """One decoded slot: its m transformed images [m, 3, H, W] and its caption text."""

    slot: CaptionSlot
    images: torch.Tensor
    text: str


@dataclass
class TrainBatch:
    """A collated batch (shapes in the module docstring); `groups` [B] is kept for logging and tests."""

    images: torch.Tensor
    tokens: torch.Tensor
    image_caption: torch.Tensor
    text_partner: torch.Tensor
    text_is_negative: torch.Tensor
    groups: torch.Tensor

    @property
    def n_captions(self) -> int:
        """B, the number of caption slots."""
        return int(self.tokens.shape[0])


class CaptionDataset(Dataset[SlotSample]):
    """Map-style dataset indexed by `CaptionSlot`: decodes and transforms m images of the slot's caption."""

    def __init__(
        self,
        store: GroupStore,
        images_per_caption: int,
        transform: Transform,
        seed: int,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
    ) -> None:
        self.store = store
        self.images_per_caption = images_per_caption
        self.transform = transform
        self.split = split_transform(transform)  # one tensor conversion per caption (data/pixels.py)
        self.seed = seed
        self.cache_bytes = cache_bytes
        self.table = ImageTable.of_groups(store.groups)
        self._decoded: dict[tuple[int, str], Image.Image] = {}
        self._cached_bytes = 0

    def decoded(self, group: int, key: str) -> Image.Image:
        """Image `key` of group `group` as RGB, decoded on first use and kept while the cache has room."""
        image = self._decoded.get((group, key))
        if image is None:
            image = self.store.image(group, key)
            size = image.width * image.height * len(image.getbands())
            if self._cached_bytes + size <= self.cache_bytes:
                self._decoded[(group, key)] = image
                self._cached_bytes += size
        return image

    def __len__(self) -> int:
        return len(self.store)

    def __getitem__(self, slot: CaptionSlot) -> SlotSample:
        """Slot -> (m transformed images, caption text), seeded by (seed, step, group, caption)."""
        return self.__getitems__([slot])[0]

    def __getitems__(self, slots: list[CaptionSlot]) -> list[SlotSample]:
        """A batch of slots (the DataLoader's batched fetch): the images of all chosen at once
        (`ImageTable.choose_slots`, as the in-memory loader does), then each slot decoded and transformed."""
        choice = self.table.choose_slots(slots, self.seed, self.images_per_caption)
        local = choice.entries - self.table.start[choice.captions][:, None]
        return [self.sample(slot, row.tolist()) for slot, row in zip(slots, local, strict=True)]

    def sample(self, slot: CaptionSlot, chosen: list[int]) -> SlotSample:
        """Slot -> its images number `chosen` (indices into its caption's records), transformed with the
        augmentation seeded by (seed, step, group, caption), and its caption text."""
        records = self.store.caption_images(slot.group, slot.neg)
        decoded = [self.decoded(slot.group, records[i].key) for i in chosen]
        with torch.random.fork_rng(devices=[]):  # seeded augmentation without disturbing the caller's RNG
            # the CPU generator alone: torch.manual_seed would also queue a CUDA seed (a stack trace each call)
            torch.default_generator.manual_seed(
                derive_seed(self.seed, "augment", slot.step, slot.group, slot.neg)
            )
            if self.split is not None:
                images = self.split(decoded)
            else:
                images = torch.stack([self.transform(image) for image in decoded])
        return SlotSample(slot=slot, images=images, text=self.store.caption(slot.group, slot.neg))


class SlotCollate:
    """Collates `SlotSample`s into a `TrainBatch`, tokenising the captions (runs in the worker)."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer

    def __call__(self, samples: list[SlotSample]) -> TrainBatch:
        return collate_slots(samples, self.tokenizer)


def collate_slots(samples: list[SlotSample], tokenizer: Tokenizer) -> TrainBatch:
    """Stacks slot samples into a `TrainBatch` (layout in the module docstring)."""
    per_caption = [s.images.shape[0] for s in samples]
    images, tokens = torch.cat([s.images for s in samples]), tokenizer([s.text for s in samples])
    return assemble_batch([s.slot for s in samples], per_caption, images, tokens)


def assemble_batch(
    slots: Sequence[CaptionSlot], per_caption: Sequence[int], images: torch.Tensor, tokens: torch.Tensor
) -> TrainBatch:
    """A `TrainBatch` of `slots` whose images (`per_caption[j]` rows for slot j, in slot order) and tokens
    are given: adds the caption, partner, negative and group index columns."""
    return TrainBatch(
        images=images,
        tokens=tokens,
        image_caption=torch.from_numpy(np.repeat(np.arange(len(slots), dtype=np.int64), per_caption)),
        text_partner=torch.tensor([s.partner for s in slots], dtype=torch.long),
        text_is_negative=torch.tensor([s.neg >= 0 for s in slots], dtype=torch.bool),
        groups=torch.tensor([s.group for s in slots], dtype=torch.long),
    )


# ----------------------------------------------------------------------------- input checks


def has_negatives(groups: Sequence[Group]) -> bool:
    """True when at least one group has a hard-negative caption."""
    return any(g.negatives for g in groups)


def check_negatives(groups: Sequence[Group], loss: str, needs_negatives: bool, dataset_dir: Path) -> None:
    """An HN objective on a dataset without negatives is an error naming the loss and the dataset."""
    if needs_negatives and not has_negatives(groups):
        raise ValueError(
            f"train.loss={loss!r} needs hard-negative captions, but the dataset {dataset_dir} has none "
            "(built with captions.negatives_per_caption=0?); use a loss without negatives (clip, siglip, "
            "mpclip, stablerep+) or rebuild with captions.negatives_per_caption >= 1"
        )


def check_images_per_caption(groups: Sequence[Group], m: int, negatives: bool) -> None:
    """train.images_per_caption larger than a caption's image count is an error naming both numbers."""
    fewest: tuple[int, str] | None = None
    for group in groups:
        counts = [(len(group.images), f"group {group.id} (base caption)")]
        if negatives:
            counts += [
                (len(n.images), f"group {group.id} (negative {j})") for j, n in enumerate(group.negatives)
            ]
        low = min(counts)
        if fewest is None or low[0] < fewest[0]:
            fewest = low
    if fewest is not None and m > fewest[0]:
        raise ValueError(
            f"train.images_per_caption={m} but {fewest[1]} has only {fewest[0]} image(s); set "
            f"train.images_per_caption <= {fewest[0]} or build with more images per caption "
            "(images.per_caption, or images.strategy=msm-all with a larger pool)"
        )


def next_batch(batches: Iterator[TrainBatch]) -> TrainBatch:
    """The next batch; a ShardError raised in a DataLoader worker keeps its one-line message.

    torch re-raises a worker's exception with the worker's traceback in the message; the last line of
    that traceback is the original message (naming the shard and member).
    """
    try:
        return next(batches)
    except ShardError as err:
        lines = [line for line in str(err).splitlines() if line.strip()]
        if len(lines) > 1 and lines[0].startswith("Caught "):
            raise ShardError(
                lines[-1].removeprefix(f"{type(err).__module__}.").removeprefix("ShardError: ")
            ) from None
        raise
