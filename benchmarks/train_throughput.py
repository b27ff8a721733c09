"""Training-step throughput: our loop vs a plain open_clip loop, each objective vs `clip`, bf16 vs fp32.

    python benchmarks/train_throughput.py [--model synth-tiny-vit] [--batch 64] [--rounds 15] [--threads N] [--clock wall|cpu]

Everything runs in ONE process on ONE synthetic batch (random images, real tokenised captions, half the
captions in base+HN pairs), so only the step itself differs between variants. Measurements are interleaved
(A, B, C, ..., A, B, C, ...) and each variant's time is the median over rounds, and every ratio is the
median of the per-round ratios, so machine noise (other processes, frequency changes) cancels.

Targets: our step ≥ 1.0× the plain open_clip step's samples/s; mpclip and tripletclip-sym ≤ 1.15× clip's
step time; hn-nce, at a fixed β and with β(t) set before every step (train.hn_beta), ≤ 1.10× clip's.
Data loading is not measured here (see `data_wait` in a real run's metrics.jsonl).
"""

from __future__ import annotations

import argparse
import copy
import itertools
import statistics
import time
from collections.abc import Callable

import open_clip
import torch

from synthmphn.config import HardnessConfig, ScheduleConfig, TrainConfig
from synthmphn.data.batches import TrainBatch
from synthmphn.data.records import Group, NegativeCaption
from synthmphn.data.sampler import GroupBatchSampler
from synthmphn.losses import LOSSES, create_loss
from synthmphn.models import create_clip
from synthmphn.models.factory import to_channels_last
from synthmphn.models.gemm_conv import use_gemm_convs
from synthmphn.train.allocator import keep_freed_memory
from synthmphn.train.hardness import HardnessCurriculum
from synthmphn.train.loop import train_step
from synthmphn.train.optim import clamp_logit_scale, create_optimizer
from synthmphn.train.row_grads import RowGrads

OBJECTIVES = ("clip", "mpclip", "negclip", "tripletclip", "tripletclip-sym", "stablerep+", "hn-nce")
TARGETS = {"mpclip": 1.15, "tripletclip-sym": 1.15, "hn-nce": 1.10, "hn-nce β-schedule": 1.10}
BETA_SCHEDULE = HardnessConfig(name="cosine", max=1.0)


def synthetic_batch(
    batch_size: int, image_size: int, tokenizer: Callable[[list[str]], torch.Tensor]
) -> TrainBatch:
    """B captions (half of them in base+HN pairs, as the sampler lays them out), one random image each."""
    groups = [
        Group(
            id=f"g{i}",
            caption=f"a red circle {i}",
            negatives=[NegativeCaption(text=f"a blue circle {i}", kind="x")],
        )
        for i in range(batch_size)
    ]
    slots = GroupBatchSampler(
        groups, batch_size, ScheduleConfig(name="constant", p_max=0.25), 1, seed=0
    ).batch_at(0)
    texts = [groups[s.group].caption if s.neg < 0 else groups[s.group].negatives[0].text for s in slots]
    generator = torch.Generator().manual_seed(0)
    return TrainBatch(
        images=torch.randn(batch_size, 3, image_size, image_size, generator=generator),
        tokens=tokenizer(texts),
        image_caption=torch.arange(batch_size),
        text_partner=torch.tensor([s.partner for s in slots]),
        text_is_negative=torch.tensor([s.neg >= 0 for s in slots]),
        groups=torch.tensor([s.group for s in slots]),
    )


def ours(
    model: torch.nn.Module,
    loss: str,
    precision: str,
    batch: TrainBatch,
    hn_beta: HardnessConfig | None = None,
) -> Callable[[], None]:
    """One optimiser step of `synthmphn.train.loop.train_step` (grad clip 1.0), model prepared as in a run.

    With `hn_beta`, β(t) is set on the loss before each step as the training loop does (t cycles over 100
    steps), so the hardness-curriculum path is timed too.
    """
    model = use_gemm_convs(to_channels_last(model))
    optimizer = create_optimizer(model, 1e-5, 0.1)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    loss_fn = create_loss(loss)
    hardness = HardnessCurriculum(loss_fn, TrainConfig(loss=loss, hn_beta=hn_beta))
    calls = itertools.count()
    row_grads = RowGrads(model)

    def step() -> None:
        hardness.at(next(calls) % 100 / 100)
        train_step(
            model, loss_fn, optimizer, scaler, [batch], precision, grad_clip=1.0, step=1, row_grads=row_grads
        )

    return step


def plain_open_clip(model: torch.nn.Module, batch: TrainBatch) -> Callable[[], None]:
    """open_clip's own training step: forward, open_clip.loss.ClipLoss, backward, clip 1.0, AdamW, clamp.

    torch's defaults throughout (for-loop AdamW, default SDPA kernel, NCHW weights), as open_clip runs it.
    """
    optimizer = create_optimizer(model, 1e-5, 0.1, fused=False)
    loss_fn = open_clip.loss.ClipLoss()

    def step() -> None:
        image_features, text_features, logit_scale = model(batch.images, batch.tokens)[:3]
        loss = loss_fn(image_features, text_features, logit_scale)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        clamp_logit_scale(model)

    return step


def measure(
    variants: dict[str, Callable[[], None]],
    rounds: int,
    warmup: int = 2,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, list[float]]:
    """Seconds per call of each variant over `rounds` interleaved rounds (after `warmup` untimed rounds)."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    for index in range(warmup + rounds):
        for name, step in variants.items():
            start = clock()
            step()
            if index >= warmup:
                times[name].append(clock() - start)
    return times


def ratio(times: dict[str, list[float]], numerator: str, denominator: str) -> float:
    """Median over rounds of time[numerator] / time[denominator]."""
    return statistics.median(a / b for a, b in zip(times[numerator], times[denominator], strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="synth-tiny-vit")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="wall: elapsed time; cpu: this process's CPU time (steadier on a shared machine; use --threads 1)",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    keep_freed_memory()  # as run_training does: every variant re-allocates what its last step freed

    torch.manual_seed(0)
    parts = create_clip(args.model, augment=False)
    batch = synthetic_batch(args.batch, parts.image_size, parts.tokenizer)
    fresh = lambda: copy.deepcopy(parts.model)  # noqa: E731 - each variant trains its own copy
    objectives = [name for name in OBJECTIVES if name in LOSSES]
    variants = {"open_clip plain (clip)": plain_open_clip(fresh(), batch)}
    variants.update({f"ours {name} fp32": ours(fresh(), name, "fp32", batch) for name in objectives})
    if "hn-nce" in objectives:
        objectives.append("hn-nce β-schedule")
        variants["ours hn-nce β-schedule fp32"] = ours(fresh(), "hn-nce", "fp32", batch, BETA_SCHEDULE)
    variants["ours clip bf16"] = ours(fresh(), "clip", "bf16", batch)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    times = measure(variants, args.rounds, clock=clock)

    print(
        f"model {args.model}, batch {args.batch}, threads {torch.get_num_threads()}, {args.rounds} rounds, {args.clock} clock\n"
    )
    print(f"{'variant':<32} {'median s/step':>14} {'samples/s':>10}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<32} {median:>14.4f} {args.batch / median:>10.1f}")
    print()
    plain = "open_clip plain (clip)"
    print(
        f"ours clip / open_clip plain  samples/s ratio  {1 / ratio(times, 'ours clip fp32', plain):.3f}  (target >= 1.0)"
    )
    for name in objectives[1:]:
        target = f"  (target <= {TARGETS[name]:.2f})" if name in TARGETS else ""
        value = ratio(times, f"ours {name} fp32", "ours clip fp32")
        print(f"{name:<18} / clip    step-time ratio  {value:.3f}{target}")
    speedup = 1 / ratio(times, "ours clip bf16", "ours clip fp32")
    print(f"bf16 autocast / fp32         speed-up         {speedup:.3f}")


if __name__ == "__main__":
    main()
