"""Slots -> tensors: collate layout, worker determinism, checks (image choice: test_choice.py)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader
from torchvision import transforms

from synthmphn.config import ScheduleConfig
from synthmphn.data.batches import (
    CaptionDataset,
    SlotCollate,
    check_images_per_caption,
    check_negatives,
)
from synthmphn.data.manifest import Manifest, ShardEntry
from synthmphn.data.records import Group, ImageRecord, NegativeCaption
from synthmphn.data.sampler import GroupBatchSampler
from synthmphn.data.shards import write_shard
from synthmphn.data.store import GroupStore


def png(value: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (12, 12), (value % 256, (3 * value) % 256, (7 * value) % 256)).save(buffer, format="PNG")
    return buffer.getvalue()


def records(prefix: str, gens: list[str], images: dict[str, bytes], base_seed: int) -> list[ImageRecord]:
    out = []
    for k, gen in enumerate(gens):
        key = f"{prefix}.{k}.png"
        images[key] = png(base_seed + k)
        out.append(ImageRecord(key=key, generator=gen, seed=base_seed + k))
    return out


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> GroupStore:
    """12 groups, 1 negative, 3 images per caption from generators a, b, c."""
    root = tmp_path_factory.mktemp("batches-data")
    samples = []
    for i in range(12):
        images: dict[str, bytes] = {}
        negative = NegativeCaption(
            text=f"neg {i}", kind="subject", images=records("neg0", list("abc"), images, 100 * i + 50)
        )
        group = Group(
            id=f"g{i:03d}",
            caption=f"base {i}",
            images=records("base", list("abc"), images, 100 * i),
            negatives=[negative],
        )
        samples.append((group, images))
    sha = write_shard(root / "train-000000.tar", samples)
    Manifest(
        root,
        [ShardEntry(path="train-000000.tar", split="train", index=0, n_groups=12, n_images=72, sha256=sha)],
    ).save()
    return GroupStore(root)


def fake_tokenizer(texts: list[str]) -> torch.Tensor:
    return torch.tensor([[len(t), ord(t[0])] for t in texts])


AUGMENT = transforms.Compose([transforms.RandomResizedCrop(8, scale=(0.5, 1.0)), transforms.ToTensor()])


def loader(store: GroupStore, workers: int, m: int = 2, start: int = 0) -> DataLoader:
    sampler = GroupBatchSampler(store.groups, 6, ScheduleConfig(name="constant", p_max=0.34), 5, seed=1)
    sampler.start_step = start
    dataset = CaptionDataset(store, m, AUGMENT, seed=1)
    return DataLoader(
        dataset, batch_sampler=sampler, num_workers=workers, collate_fn=SlotCollate(fake_tokenizer)
    )


def test_collated_layout(store: GroupStore) -> None:
    batch = next(iter(loader(store, workers=0)))
    assert batch.images.shape == (12, 3, 8, 8)  # B·m images
    assert batch.tokens.shape == (6, 2)
    assert batch.image_caption.tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert batch.text_partner.tolist() == [1, 0, 3, 2, -1, -1]  # ⌊0.34·6⌋ = 2 pairs first
    assert batch.text_is_negative.tolist()[:4] == [False, True, False, True]
    assert batch.groups[0] == batch.groups[1] and batch.n_captions == 6


def test_texts_follow_the_slots(store: GroupStore) -> None:
    dataset = CaptionDataset(store, 1, transforms.ToTensor(), seed=0)
    slot = GroupBatchSampler(store.groups, 6, ScheduleConfig(name="constant"), 5, seed=0).batch_at(0)[1]
    assert dataset[slot].text == f"neg {slot.group}" and dataset[slot].images.shape == (1, 3, 12, 12)


def test_workers_and_resume_give_identical_batches(store: GroupStore) -> None:
    plain = list(loader(store, workers=0))
    with_worker = list(loader(store, workers=1))
    resumed = list(loader(store, workers=0, start=3))
    assert len(plain) == 5 and len(resumed) == 2
    for a, b in zip(plain, with_worker, strict=True):
        assert torch.equal(a.images, b.images) and torch.equal(a.tokens, b.tokens)
    for a, b in zip(plain[3:], resumed, strict=True):
        assert torch.equal(a.images, b.images)


def test_hn_loss_without_negatives_is_a_clear_error() -> None:
    groups = [Group(id="g0", caption="a cat")]
    with pytest.raises(ValueError, match=r"train.loss='negclip'.*/data/x"):
        check_negatives(groups, "negclip", True, Path("/data/x"))
    check_negatives(groups, "mpclip", False, Path("/data/x"))


def test_too_many_images_per_caption_is_a_clear_error(store: GroupStore) -> None:
    check_images_per_caption(store.groups, 3, negatives=True)
    with pytest.raises(ValueError, match=r"train.images_per_caption=4 .* only 3 image"):
        check_images_per_caption(store.groups, 4, negatives=True)


class CountingStore:
    """Wraps a store and counts `image` calls (decodes)."""

    def __init__(self, store: GroupStore) -> None:
        self.inner, self.decodes = store, 0

    def image(self, i: int, key: str) -> Image.Image:
        self.decodes += 1
        return self.inner.image(i, key)

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def test_each_image_is_decoded_once_and_batches_do_not_change(store: GroupStore) -> None:
    sampler = GroupBatchSampler(store.groups, 6, ScheduleConfig(name="constant", p_max=0.34), 8, seed=1)
    counting = CountingStore(store)
    cached = CaptionDataset(counting, 3, AUGMENT, seed=1)  # type: ignore[arg-type]
    uncached = CaptionDataset(store, 3, AUGMENT, seed=1, cache_bytes=0)
    slots = [slot for step in range(8) for slot in sampler.batch_at(step)]
    for slot in slots:
        a, b = cached[slot], uncached[slot]
        assert torch.equal(a.images, b.images) and a.text == b.text
    distinct = {(s.group, r.key) for s in slots for r in store.caption_images(s.group, s.neg)}
    assert counting.decodes == len(distinct) < 3 * len(slots)  # every caption shows all 3 of its images


def test_one_tensor_conversion_per_caption_gives_the_per_image_batches(store: GroupStore) -> None:
    normalized = transforms.Compose(
        [*AUGMENT.transforms, transforms.Normalize((0.4, 0.5, 0.6), (0.2, 0.3, 0.25))]
    )
    split = CaptionDataset(store, 3, normalized, seed=1)
    per_image = CaptionDataset(
        store, 3, lambda image: normalized(image), seed=1
    )  # a plain callable: no split
    assert split.split is not None and per_image.split is None
    sampler = GroupBatchSampler(store.groups, 6, ScheduleConfig(name="constant", p_max=0.34), 4, seed=1)
    for slot in [slot for step in range(4) for slot in sampler.batch_at(step)]:
        assert torch.equal(split[slot].images, per_image[slot].images)


def test_the_decode_cache_stops_at_its_byte_budget(store: GroupStore) -> None:
    counting = CountingStore(store)
    dataset = CaptionDataset(counting, 1, AUGMENT, seed=1, cache_bytes=2 * 12 * 12 * 3)  # two 12 px images
    for _ in range(2):
        for key in ("base.0.png", "base.1.png", "base.2.png"):
            dataset.decoded(0, key)
    assert counting.decodes == 3 + 1  # the third image did not fit, so it is decoded again
