"""Each training-step speed lever on its own and together, side by side, plus per-op profiles before/after.

    python benchmarks/train_levers.py [--data DATASET_DIR] [--model synth-tiny-cnn-32] [--rounds 8] [--profile]

One process, one thread, one real batch (as in train_utilisation.py), CPU-time clock; variants run interleaved and each
ratio is the median over rounds of (variant step time / plain step time). "plain" is the step before the
speed-ups: for-loop AdamW, torch's default SDPA kernel (flash attention on CPU), NCHW weights. With
--profile, torch.profiler's self-CPU table (top ops) of 3 plain steps and of 3 fast steps is printed.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from unittest import mock

import torch
from train_utilisation import build_dataset, real_batch

from synthmphn.losses import create_loss
from synthmphn.models import create_clip
from synthmphn.models.factory import to_channels_last
from synthmphn.models.gemm_conv import use_gemm_convs
from synthmphn.train import loop
from synthmphn.train.optim import create_optimizer

LEVERS = {  # name: (fused AdamW, math SDPA, channels_last, GEMM convs)
    "plain": (False, False, False, False),
    "fused AdamW": (True, False, False, False),
    "math SDPA": (False, True, False, False),
    "channels_last": (False, False, True, False),
    "GEMM convs": (False, False, False, True),
    "all four (default)": (True, True, True, True),
}


def variant(
    base: torch.nn.Module, batch: object, fused: bool, math: bool, cl: bool, gemm: bool
) -> Callable[[], None]:
    """One train_step closure with the given levers on its own copy of the model."""
    model = copy.deepcopy(base)
    if cl:
        to_channels_last(model)
    if gemm:
        use_gemm_convs(model)
    optimizer = create_optimizer(model, 1e-5, 0.1, fused=fused)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    loss_fn = create_loss("mpclip")
    backend = loop.attention_backend if math else (lambda device: nullcontext())

    def step() -> None:
        with mock.patch.object(loop, "attention_backend", backend):
            loop.train_step(model, loss_fn, optimizer, scaler, [batch], "bf16", grad_clip=1.0, step=1)  # type: ignore[list-item]

    return step


def profile_table(step: Callable[[], None], rows: int = 18) -> str:
    """torch.profiler self-CPU table of 3 steps (after 2 warm-up steps)."""
    from torch.profiler import profile

    for _ in range(2):
        step()
    with profile() as prof:
        for _ in range(3):
            step()
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--model", default="synth-tiny-cnn-32")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    parts = create_clip(args.model, augment=False)
    with tempfile.TemporaryDirectory() as tmp:
        batch = real_batch(args.data or build_dataset(Path(tmp)), parts, args.batch)
    steps = {name: variant(parts.model, batch, *levers) for name, levers in LEVERS.items()}
    times: dict[str, list[float]] = {name: [] for name in steps}
    for index in range(args.rounds + 1):
        for name, step in steps.items():
            start = time.process_time()
            step()
            if index:
                times[name].append(time.process_time() - start)
    print(f"{args.model}, batch {args.batch} captions × 2 images, bf16, 1 thread, {args.rounds} rounds")
    print(f"{'variant':<22} {'median s/step':>13} {'time / plain':>12}")
    for name, values in times.items():
        ratio = statistics.median(a / b for a, b in zip(values, times["plain"], strict=True))
        print(f"{name:<22} {statistics.median(values):>13.3f} {ratio:>12.3f}")
    if args.profile:
        print("\nplain step, self CPU time of 3 steps\n" + profile_table(steps["plain"]))
        print(
            "\nfast step (default), self CPU time of 3 steps\n" + profile_table(steps["all four (default)"])
        )


if __name__ == "__main__":
    main()
