"""Model FLOP/s of our real training step as a fraction of this machine's in-process GEMM peak.

    python benchmarks/train_utilisation.py [--data DATASET_DIR] [--models a,b] [--batch 64] [--rounds 8]

Everything runs in ONE process with one thread: the GEMM peak (best of several large square matmuls, bf16
and fp32) and `synthmphn.train.loop.train_step` (the precision `train.precision=auto` picks here: bf16 autocast
where the CPU runs bf16 natively (AMX/AVX512), else fp32; mpclip, m = 2, grad clip 1, AdamW as
`create_optimizer` makes it, the model prepared as `run_training` prepares it) on a real batch of a built
dataset, for each shipped model config. Model FLOPs are counted by torch.utils.flop_counter.FlopCounterMode
over one whole step (forward + backward matmuls and convolutions; elementwise work counts 0). Rounds are
interleaved (peak, model 1, model 2, ...) and each ratio is the median of per-round ratios, so a loaded
machine's noise mostly cancels. Without --data a small quickstart dataset is built in a temporary folder.

"<model> plain" is the quickstart model's step before the speed-ups (docs/performance.md). The default clock
is this process's CPU time (1 thread, so it leaves out the time other processes hold the core).
The last line is `utilisation <ratio> of bf16 peak` for synth-tiny-cnn-32 (the quickstart model); on a CPU
without native bf16 (an AVX2-only AMD Zen 3 ran a bf16 GEMM at 0.001 TFLOP/s) the step runs in fp32 and the
line reads `of fp32 peak`, the fastest precision that machine has.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from unittest import mock

import torch
from torch.utils.flop_counter import FlopCounterMode

from synthmphn.config import ScheduleConfig
from synthmphn.data.batches import CaptionDataset, SlotCollate, TrainBatch
from synthmphn.data.sampler import GroupBatchSampler
from synthmphn.data.store import GroupStore
from synthmphn.losses import create_loss
from synthmphn.models import create_clip
from synthmphn.models.factory import tiny_model_names, to_channels_last
from synthmphn.models.gemm_conv import use_gemm_convs
from synthmphn.train import loop
from synthmphn.train.optim import create_optimizer
from synthmphn.train.precision import resolve_precision

QUICKSTART_MODEL = "synth-tiny-cnn-32"
PRECISION = resolve_precision("auto", "cpu")  # the precision the quickstart trains in on this machine
ROOT = Path(__file__).resolve().parents[1]


CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}
clock = CLOCKS["cpu"]


def matmul_seconds(n: int, dtype: torch.dtype, repeats: int = 5) -> float:
    """Best time of `repeats` n×n @ n×n matmuls in `dtype` (2·n³ FLOPs each)."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        start = clock()
        torch.mm(a, b)
        best = min(best, clock() - start)
    return best


def gemm_peak(dtype: torch.dtype, sizes: tuple[int, ...] = (512, 1024, 2048)) -> tuple[int, float]:
    """(size, FLOP/s) of the fastest square matmul size: the in-process GEMM peak for `dtype`."""
    rates = {n: 2 * n**3 / matmul_seconds(n, dtype) for n in sizes}
    best = max(rates, key=rates.__getitem__)
    return best, rates[best]


def build_dataset(out: Path) -> Path:
    """A small quickstart dataset (150 groups) built with the CLI in `out`; returns its dataset folder."""
    command = [sys.executable, "-m", "synthmphn.cli", "build", str(ROOT / "configs" / "quickstart.yaml")]
    command += [f"output.dir={out}", "captions.n_groups=150", "splits.heldout_groups=20"]
    command += ["splits.heldout_style_groups=20", "images.workers=1"]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return out / "dataset"


def real_batch(dataset_dir: Path, parts: object, batch_size: int) -> TrainBatch:
    """The first training batch of `dataset_dir` as `run_training` would load it (m = 2, HN pairs p = 0.5)."""
    store = GroupStore(dataset_dir, "train")
    sampler = GroupBatchSampler(store.groups, batch_size, ScheduleConfig(name="constant", p_max=0.5), 1, 0)
    dataset = CaptionDataset(store, 2, parts.preprocess_train, seed=0)  # type: ignore[attr-defined]
    return SlotCollate(parts.tokenizer)([dataset[slot] for slot in sampler.batch_at(0)])  # type: ignore[attr-defined]


def step_of(
    name: str, dataset_dir: Path, batch_size: int, plain: bool = False
) -> tuple[Callable[[], object], float]:
    """(one real train step of model `name`, its model FLOPs counted by FlopCounterMode).

    `plain` is the step before the speed-ups (for-loop AdamW, torch's default SDPA kernel, NCHW weights, oneDNN for every conv).
    """
    torch.manual_seed(0)
    parts = create_clip(name, augment=False)
    model = parts.model if plain else use_gemm_convs(to_channels_last(parts.model))
    batch = real_batch(dataset_dir, parts, batch_size)
    optimizer = create_optimizer(model, 1e-5, 0.1, fused=False if plain else None)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    loss_fn = create_loss("mpclip")
    backend = (lambda device: nullcontext()) if plain else loop.attention_backend

    def step() -> object:
        with mock.patch.object(loop, "attention_backend", backend):
            return loop.train_step(
                model, loss_fn, optimizer, scaler, [batch], PRECISION, grad_clip=1.0, step=1
            )

    step()  # warm-up (oneDNN primitive caches, optimiser state)
    counter = FlopCounterMode(display=False)
    with counter:
        step()
    return step, float(counter.get_total_flops())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=None, help="a built dataset folder (default: build one)")
    parser.add_argument("--models", default=",".join(tiny_model_names()))
    parser.add_argument("--batch", type=int, default=64, help="captions per batch (2 images each)")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="cpu",
        help="cpu (default): this process's CPU time, which leaves out time other processes hold the core",
    )
    args = parser.parse_args()
    global clock
    clock = CLOCKS[args.clock]
    torch.set_num_threads(1)
    names = args.models.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        dataset_dir = args.data or build_dataset(Path(tmp))
        steps = {name: step_of(name, dataset_dir, args.batch) for name in names}
        if QUICKSTART_MODEL in names:
            steps[f"{QUICKSTART_MODEL} plain"] = step_of(QUICKSTART_MODEL, dataset_dir, args.batch, True)
    peak_n, bf16_peak = gemm_peak(torch.bfloat16)
    fp32_n, fp32_peak = gemm_peak(torch.float32)
    peak_dtype = torch.bfloat16 if PRECISION == "bf16" else torch.float32
    if PRECISION != "bf16":
        peak_n = fp32_n
    seconds: dict[str, list[float]] = {name: [] for name in steps}
    ratios: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(args.rounds):
        peak_s = matmul_seconds(peak_n, peak_dtype)
        for name, (step, flops) in steps.items():
            start = clock()
            step()
            seconds[name].append(clock() - start)
            ratios[name].append((flops / seconds[name][-1]) / (2 * peak_n**3 / peak_s))
    print(
        f"threads 1, batch {args.batch} captions × 2 images, {PRECISION} (train.precision=auto), {args.rounds} interleaved rounds, {args.clock} clock"
    )
    print(
        f"GEMM peak bf16 {bf16_peak / 1e12:.3f} TFLOP/s (n = {peak_n}), fp32 {fp32_peak / 1e9:.0f} GFLOP/s (n = {fp32_n})"
    )
    print(f"{'model':<24} {'GFLOP/step':>10} {'s/step':>8} {'GFLOP/s':>8} {f'of {PRECISION} peak':>12}")
    for name, (_, flops) in steps.items():
        median = statistics.median(seconds[name])
        print(
            f"{name:<24} {flops / 1e9:>10.2f} {median:>8.3f} {flops / median / 1e9:>8.1f} {statistics.median(ratios[name]):>12.3f}"
        )
    if QUICKSTART_MODEL in ratios:
        print(f"utilisation {statistics.median(ratios[QUICKSTART_MODEL]):.3f} of {PRECISION} peak")


if __name__ == "__main__":
    main()
