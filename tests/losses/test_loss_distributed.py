"""2 CPU processes (gloo) on half-batches give the loss and gradients of 1 process on the whole batch."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from synthmphn.losses import LOSSES, ContrastiveBatch, create_loss, gather_batch

IN_DIM, EMBED_DIM = 7, 5

# Each rank's captions as (images, is_negative, local partner); the ranks hold different numbers of rows.
RANK_CAPTIONS = [
    [(2, False, 1), (2, True, 0), (2, False, 3), (2, True, 2), (2, False, -1)],
    [(2, False, 1), (2, True, 0), (2, True, -1)],
]


class Toy(nn.Module):
    """Model-free stand-in for CLIP: one linear layer per modality plus the logit scale (and bias)."""

    def __init__(self, with_bias: bool) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.image = nn.Linear(IN_DIM, EMBED_DIM)
        self.text = nn.Linear(IN_DIM, EMBED_DIM)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(4.0)))
        self.logit_bias = nn.Parameter(torch.tensor(-2.0)) if with_bias else None

    def forward(self, images: torch.Tensor, texts: torch.Tensor):
        return (
            F.normalize(self.image(images), dim=1),
            F.normalize(self.text(texts), dim=1),
            self.logit_scale.exp(),
        )


def local_inputs(name: str, rank: int) -> dict[str, torch.Tensor]:
    """Rank `rank`'s inputs and structure (indices local to the rank); clip gets one image per caption."""
    captions = RANK_CAPTIONS[rank]
    images_per = [1 if name == "clip" else m for m, _, _ in captions]
    generator = torch.Generator().manual_seed(100 + rank)
    return {
        "images": torch.randn(sum(images_per), IN_DIM, generator=generator),
        "texts": torch.randn(len(captions), IN_DIM, generator=generator),
        "image_caption": torch.tensor([j for j, m in enumerate(images_per) for _ in range(m)]),
        "text_partner": torch.tensor([p for _, _, p in captions]),
        "text_is_negative": torch.tensor([neg for _, neg, _ in captions]),
    }


def global_inputs(name: str) -> dict[str, torch.Tensor]:
    """Both ranks' inputs concatenated, indices shifted by rank 0's caption rows."""
    parts = [local_inputs(name, rank) for rank in range(len(RANK_CAPTIONS))]
    offset = len(parts[0]["texts"])
    second = dict(parts[1])
    second["image_caption"] = second["image_caption"] + offset
    second["text_partner"] = torch.where(second["text_partner"] >= 0, second["text_partner"] + offset, -1)
    return {key: torch.cat([parts[0][key], second[key]]) for key in parts[0]}


def loss_and_grads(name: str, model: nn.Module, inputs: dict[str, torch.Tensor], gather: bool) -> dict:
    image_features, text_features, scale = model(inputs["images"], inputs["texts"])
    inner = model.module if isinstance(model, DistributedDataParallel) else model
    batch = ContrastiveBatch(
        image_features,
        text_features,
        inputs["image_caption"],
        inputs["text_partner"],
        inputs["text_is_negative"],
        scale,
        inner.logit_bias,
    )
    loss = create_loss(name)(gather_batch(batch) if gather else batch)["loss"]
    loss.backward()
    return {"loss": loss.detach(), "grads": {k: p.grad.clone() for k, p in inner.named_parameters()}}


def worker(rank: int, world_size: int, init_file: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size)
    try:
        results = {}
        for name in LOSSES.names():
            model = DistributedDataParallel(Toy(with_bias=name == "siglip"))
            results[name] = loss_and_grads(name, model, local_inputs(name, rank), gather=True)
        torch.save(results, Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def two_process_results(tmp_path_factory) -> list[dict]:
    tmp = tmp_path_factory.mktemp("ddp")
    mp.spawn(worker, args=(2, str(tmp / "init"), str(tmp)), nprocs=2, join=True)
    return [torch.load(tmp / f"rank{rank}.pt", weights_only=True) for rank in range(2)]


@pytest.mark.parametrize("name", LOSSES.names())
def test_two_processes_match_one_process(name, two_process_results):
    reference = loss_and_grads(name, Toy(with_bias=name == "siglip"), global_inputs(name), gather=False)
    for rank, results in enumerate(two_process_results):
        got = results[name]
        torch.testing.assert_close(
            got["loss"], reference["loss"], atol=1e-5, rtol=1e-5, msg=f"loss, rank {rank}"
        )
        assert set(got["grads"]) == set(reference["grads"])
        for key, grad in reference["grads"].items():
            torch.testing.assert_close(
                got["grads"][key], grad, atol=1e-5, rtol=1e-5, msg=f"{key}, rank {rank}"
            )


def test_gather_is_a_no_op_without_a_process_group():
    batch = ContrastiveBatch(
        torch.zeros(1, 2),
        torch.zeros(1, 2),
        torch.tensor([0]),
        torch.tensor([-1]),
        torch.tensor([False]),
        torch.tensor(1.0),
    )
    assert gather_batch(batch) is batch
