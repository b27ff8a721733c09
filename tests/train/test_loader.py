"""train.loader: the in-memory batches equal the DataLoader's without augmentation, crop per caption with it,
and a run trains the same from either when nothing is random in the transform."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from tiny_run import tiny_config
from torch.utils.data import DataLoader
from torchvision import transforms as T

from synthmphn.config import ScheduleConfig
from synthmphn.data.batches import CaptionDataset, SlotCollate, TrainBatch
from synthmphn.data.crop import CropSpec
from synthmphn.data.memory import MemoryBatches, memory_plan
from synthmphn.data.sampler import GroupBatchSampler
from synthmphn.data.store import GroupStore
from synthmphn.models import create_clip
from synthmphn.models.checkpoint import load_checkpoint
from synthmphn.train import loader
from synthmphn.train.checkpoints import last_checkpoint
from synthmphn.train.loop import run_training

MODEL = "synth-tiny-vit"


def sampler_of(store: GroupStore) -> GroupBatchSampler:
    return GroupBatchSampler(store.groups, 8, ScheduleConfig(name="constant", p_max=0.5), 6, seed=0)


def memory_batches(store: GroupStore, augment: bool, budget: int = 2**30) -> MemoryBatches | None:
    parts = create_clip(MODEL, augment=augment)
    plan = memory_plan(parts.preprocess_train, parts.preprocess_val)
    assert plan is not None
    return MemoryBatches.load(store, 2, plan, parts.tokenizer, seed=0, budget_bytes=budget)


def assert_same_batch(a: TrainBatch, b: TrainBatch) -> None:
    for field in dataclasses.fields(TrainBatch):
        assert torch.equal(getattr(a, field.name), getattr(b, field.name)), field.name


def test_open_clip_transforms_have_a_plan_and_others_do_not() -> None:
    plain, augmented = create_clip(MODEL, augment=False), create_clip(MODEL, augment=True)
    assert memory_plan(plain.preprocess_train, plain.preprocess_val).crop is None
    plan = memory_plan(augmented.preprocess_train, augmented.preprocess_val)
    assert plan.crop == CropSpec(size=32, scale=(0.8, 1.0), ratio=(3 / 4, 4 / 3))
    jitter = T.Compose(
        [augmented.preprocess_train.transforms[0], T.ColorJitter(0.4)]
        + augmented.preprocess_train.transforms[1:]
    )
    assert memory_plan(jitter, augmented.preprocess_val) is None  # a random step it cannot run: workers


def test_without_augmentation_memory_batches_equal_the_dataloaders_bit_for_bit(tiny_dataset: Path) -> None:
    store = GroupStore(tiny_dataset)
    parts = create_clip(MODEL, augment=False)
    memory = memory_batches(store, augment=False)
    dataset = CaptionDataset(store, 2, parts.preprocess_train, seed=0)
    workers = DataLoader(dataset, batch_sampler=sampler_of(store), collate_fn=SlotCollate(parts.tokenizer))
    pairs = list(zip(map(memory, sampler_of(store)), workers, strict=True))
    assert len(pairs) == 6
    for from_memory, from_workers in pairs:
        assert_same_batch(from_memory, from_workers)


def test_augmented_crops_depend_only_on_the_caption_and_step(tiny_dataset: Path) -> None:
    store = GroupStore(tiny_dataset)
    memory, plain = memory_batches(store, augment=True), memory_batches(store, augment=False)
    slots = sampler_of(store).batch_at(3)
    batch, again, alone = memory(slots), memory(slots), memory(slots[-1:])
    assert torch.equal(batch.images, again.images)
    assert torch.equal(
        batch.images[-2:], alone.images
    )  # the last caption's 2 images, whatever else is batched
    assert batch.images.shape == plain(slots).images.shape
    assert not torch.equal(batch.images, plain(slots).images)
    later = [slot._replace(step=slot.step + 1) for slot in slots]
    assert not torch.equal(memory(later).images, batch.images)  # a new step draws new crops


def test_a_split_over_the_budget_is_not_held(tiny_dataset: Path) -> None:
    assert memory_batches(GroupStore(tiny_dataset), augment=True, budget=1000) is None


def test_auto_takes_memory_and_an_impossible_memory_request_is_refused(
    tiny_dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, parts = GroupStore(tiny_dataset), create_clip(MODEL, augment=True)
    tc = tiny_config(Path("unused"), tiny_dataset).train
    assert not isinstance(loader.training_batches(tc, store, parts, sampler_of(store), 0, "cpu"), DataLoader)
    workers = tc.model_copy(update={"loader": "workers"})
    assert isinstance(loader.training_batches(workers, store, parts, sampler_of(store), 0, "cpu"), DataLoader)
    monkeypatch.setattr(loader, "DEFAULT_CACHE_BYTES", 1000)
    assert isinstance(loader.training_batches(tc, store, parts, sampler_of(store), 0, "cpu"), DataLoader)
    memory = tc.model_copy(update={"loader": "memory"})
    with pytest.raises(ValueError, match=r"train.loader=memory cannot hold .*use train.loader=workers"):
        loader.training_batches(memory, store, parts, sampler_of(store), 0, "cpu")


def test_a_run_without_augmentation_trains_identically_from_memory_and_from_workers(
    tiny_dataset: Path, tmp_path: Path
) -> None:
    runs = {
        name: run_training(tiny_config(tmp_path / name, tiny_dataset, loader=name, workers=1))
        for name in ("memory", "workers")
    }
    memory, workers = (load_checkpoint(last_checkpoint(runs[n]))["state_dict"] for n in ("memory", "workers"))
    for name, value in workers.items():
        assert torch.equal(memory[name], value), name
