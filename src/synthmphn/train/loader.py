"""Where a run's batches come from (train.loader): the split held in memory, or DataLoader workers.

`memory` (data/memory.py) assembles each batch in the training process from pixels decoded once; `workers`
decodes and transforms image by image in DataLoader worker processes. `auto` takes memory whenever it can
(open_clip's transform, decoded split within `DEFAULT_CACHE_BYTES`, 512 MiB) and logs which it took.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from torch.utils.data import DataLoader

from synthmphn.config import TrainConfig
from synthmphn.data.batches import DEFAULT_CACHE_BYTES, CaptionDataset, SlotCollate, TrainBatch
from synthmphn.data.memory import MemoryBatches, memory_plan
from synthmphn.data.sampler import GroupBatchSampler
from synthmphn.data.store import GroupStore
from synthmphn.models.factory import ClipParts

log = logging.getLogger(__name__)


def training_batches(
    tc: TrainConfig,
    store: GroupStore,
    parts: ClipParts,
    sampler: GroupBatchSampler,
    seed: int,
    device: str,
) -> Iterable[TrainBatch]:
    """The batches of `sampler` (from its resume step on), assembled as train.loader says."""
    if tc.loader != "workers":
        memory = in_memory(tc, store, parts, seed)
        if memory is not None:
            log.info("batches: assembled in memory from %d MiB of decoded pixels", memory.nbytes >> 20)
            return map(memory, sampler)  # here, not in a worker: see data/memory.py
    dataset = CaptionDataset(store, tc.images_per_caption, parts.preprocess_train, seed)
    # one loader iterator serves the whole run, so its workers persist without persistent_workers
    return DataLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=tc.workers,
        collate_fn=SlotCollate(parts.tokenizer),
        pin_memory="cuda" in device,
    )


def in_memory(tc: TrainConfig, store: GroupStore, parts: ClipParts, seed: int) -> MemoryBatches | None:
    """The in-memory batches, or None (auto) / a ValueError (train.loader=memory) when they cannot be made."""
    plan = memory_plan(parts.preprocess_train, parts.preprocess_val)
    memory = None
    if plan is not None:
        memory = MemoryBatches.load(
            store, tc.images_per_caption, plan, parts.tokenizer, seed, DEFAULT_CACHE_BYTES
        )
    if memory is None and tc.loader == "memory":
        raise ValueError(
            f"train.loader=memory cannot hold {store.dataset_dir}'s train split for model {parts.name!r} "
            f"(its transform is not open_clip's crop + normalise, or the decoded images exceed "
            f"{DEFAULT_CACHE_BYTES >> 20} MiB); use train.loader=workers or auto"
        )
    return memory
