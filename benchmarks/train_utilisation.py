"""Model FLOP/s of our real training step as a fraction of this machine's in-process GEMM peak.

    python benchmarks/train_utilisation.py [--data DATASET_DIR] [--models a,b] [--batch 64] [--rounds 8]

Everything runs in ONE process with `--threads` intra-op threads (default: what a single `synthmphn train`
run takes here with train.threads unset, this process's usable CPUs): the GEMM peak (best of several large
square matmuls, bf16 and fp32, each at 1 thread and at `--threads`, the faster counting, so spreading a
matmul over hyperthreads of one core cannot lower the peak) and `synthmphn.train.loop.train_step` (the precision `train.precision=auto` picks here: bf16 autocast
where the CPU runs bf16 natively (AMX/AVX512), else fp32; mpclip, m = 2, grad clip 1, AdamW as
`create_optimizer` makes it, the model prepared and glibc's malloc set as `run_training` does) on a real batch of a built
dataset, for each shipped model config. Model FLOPs are counted by torch.utils.flop_counter.FlopCounterMode
over one whole step (forward + backward matmuls and convolutions; elementwise work counts 0). Rounds are
interleaved (peak, model 1, model 2, ...) and each ratio is the median of per-round ratios, so a loaded
machine's noise mostly cancels. Without --data a small quickstart dataset is built in a temporary folder.

"<model> plain" is the quickstart model's step before the speed-ups (docs/performance.md); with --compile,
"<model> compiled" is the step with `train.compile=true` (torch.compile; ~1 min of compiling first). With one
thread the default clock is this process's CPU time (it leaves out the time other processes hold the core);
with more it is wall time (CPU time would add the threads up).
The last line is `utilisation <ratio> of bf16 peak` for synth-tiny-cnn-32 (the quickstart model); on a CPU
without native bf16 (an AVX2-only AMD Zen 3 ran a bf16 GEMM at 0.001 TFLOP/s) the step runs in fp32 and the
line reads `of fp32 peak`, the fastest precision that machine has.

`--ops` adds, for the quickstart model, where the step's time goes and what each part could reach at best:
every GEMM family (mm, addmm, bmm, convolution forward/backward) with its FLOPs (FlopCounterMode), its time
(torch.profiler self time) and, for matrix products, the best time of the same shapes run alone; fused AdamW
against the machine's copy bandwidth (the bytes it must move); everything else (memory-bound elementwise
work). Its last line bounds the utilisation if every matrix product ran at its isolated best, convolutions and
AdamW took what they take now and the elementwise work took no time at all.
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
from synthmphn.cpus import usable_cpus
from synthmphn.data.batches import CaptionDataset, SlotCollate, TrainBatch
from synthmphn.data.sampler import GroupBatchSampler
from synthmphn.data.store import GroupStore
from synthmphn.losses import create_loss
from synthmphn.models import create_clip
from synthmphn.models.factory import tiny_model_names, to_channels_last
from synthmphn.models.gemm_conv import use_gemm_convs
from synthmphn.train import loop
from synthmphn.train.allocator import keep_freed_memory
from synthmphn.train.optim import create_optimizer
from synthmphn.train.precision import resolve_precision
from synthmphn.train.row_grads import RowGrads

QUICKSTART_MODEL = "synth-tiny-cnn-32"
PRECISION = resolve_precision("auto", "cpu")  # the precision the quickstart trains in on this machine
ROOT = Path(__file__).resolve().parents[1]


CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}
clock = CLOCKS["cpu"]


def matmul_seconds(n: int, dtype: torch.dtype, repeats: int = 5) -> float:
    """Best time of `repeats` n×n @ n×n matmuls in `dtype` (2·n³ FLOPs each), at 1 thread and at the
    benchmark's thread count (the faster counts: the core's peak, however its threads are used)."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    threads = torch.get_num_threads()
    best = float("inf")
    for count in sorted({1, threads}):
        torch.set_num_threads(count)
        torch.mm(a, b)
        for _ in range(repeats):
            start = clock()
            torch.mm(a, b)
            best = min(best, clock() - start)
    torch.set_num_threads(threads)
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
    name: str, dataset_dir: Path, batch_size: int, plain: bool = False, compiled: bool = False
) -> tuple[Callable[[], object], float]:
    """(one real train step of model `name`, its model FLOPs counted by FlopCounterMode).

    `plain` is the step before the speed-ups (for-loop AdamW, torch's default SDPA kernel, NCHW weights, oneDNN for every conv,
    the text tower over all 32 token columns).
    """
    torch.manual_seed(0)
    parts = create_clip(name, augment=False)
    model = parts.model if plain else use_gemm_convs(to_channels_last(parts.model))
    if compiled:
        model.compile(dynamic=False)  # as train.compile=true does
    batch = real_batch(dataset_dir, parts, batch_size)
    optimizer = create_optimizer(model, 1e-5, 0.1, fused=False if plain else None)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    loss_fn = create_loss("mpclip")
    row_grads = None if plain or compiled else RowGrads(model)  # as run_training (one eager process)
    backend = (lambda device: nullcontext()) if plain else loop.attention_backend
    forward = (lambda model, images, tokens: model(images, tokens)) if plain else loop.clip_forward

    def step() -> object:
        with (
            mock.patch.object(loop, "attention_backend", backend),
            mock.patch.object(loop, "clip_forward", forward),
        ):
            return loop.train_step(
                model, loss_fn, optimizer, scaler, [batch], PRECISION, 1.0, 1, row_grads=row_grads
            )

    step()  # warm-up (oneDNN primitive caches, optimiser state, the compile)
    counter = FlopCounterMode(display=False)
    with counter:
        step()
    return step, float(counter.get_total_flops())


GEMM_OPS = ("mm", "addmm", "bmm", "mkldnn_convolution", "convolution_backward")
FLOP_OPS = {"mm": "mm", "addmm": "addmm", "bmm": "bmm", "mkldnn_convolution": "convolution"}
FLOP_OPS["convolution_backward"] = "convolution_backward"


def product_seconds(name: str, shapes: list[list[int]], dtype: torch.dtype, repeats: int = 10) -> float:
    """Best time of one aten matrix product (`mm`, `addmm` or `bmm`) with the profiled input shapes, alone."""
    tensors = [torch.randn(shape).to(dtype) if shape else None for shape in shapes]
    if name == "addmm":
        bias, a, b = tensors[:3]
        run = lambda: torch.addmm(bias, a, b)  # noqa: E731
    else:
        a, b = tensors[:2]
        run = (lambda: torch.mm(a, b)) if name == "mm" else (lambda: torch.bmm(a, b))
    run()
    best = float("inf")
    for _ in range(repeats):
        start = clock()
        run()
        best = min(best, clock() - start)
    return best


def copy_bandwidth(mib: int = 256) -> float:
    """Bytes/s of the best of 5 copies of `mib` MiB (read + write): the ceiling of memory-bound work."""
    a = torch.empty(mib * 2**18)
    b = torch.empty_like(a)
    a.normal_()
    best = float("inf")
    for _ in range(5):
        start = clock()
        b.copy_(a)
        best = min(best, clock() - start)
    return 2 * a.numel() * 4 / best


def op_ceilings(
    step: Callable[[], object],
    flops: float,
    model_params: int,
    peak: float,
    step_seconds: float,
    steps: int = 3,
) -> None:
    """Prints where one step's time goes (GEMM families, fused AdamW, the rest) and each part's ceiling.

    The profiler clocks wall time, which a loaded machine inflates; each part is reported as its share of
    the profiled total times `step_seconds` (the step's median on the benchmark's clock)."""
    from torch.profiler import profile

    counter = FlopCounterMode(display=False)
    with counter:
        step()
    family_flops = {str(op).split(".")[-1]: n for op, n in counter.get_flop_counts()["Global"].items()}
    with profile() as prof:  # times (recording shapes slows small ops several-fold)
        for _ in range(steps):
            step()
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    spent = {
        e.key.removeprefix("aten::"): step_seconds * e.self_cpu_time_total / total
        for e in events
        if e.key.removeprefix("aten::") in GEMM_OPS
    }
    with profile(record_shapes=True) as shaped:  # which shapes each matrix product is called with
        step()
    dtype = torch.bfloat16 if PRECISION == "bf16" else torch.float32
    isolated: dict[str, float] = {}
    for event in shaped.key_averages(group_by_input_shape=True):
        name = event.key.removeprefix("aten::")
        if name in ("mm", "addmm", "bmm"):
            best = product_seconds(name, event.input_shapes, dtype)
            isolated[name] = isolated.get(name, 0.0) + event.count * best
    adamw = step_seconds * sum(e.self_cpu_time_total for e in events if "fused_adam" in e.key) / total
    bandwidth = copy_bandwidth()
    adamw_floor = model_params * 4 * 7 / bandwidth  # fp32 param r/w, grad r, two moments r/w
    print(
        f"\nwhere the {QUICKSTART_MODEL} step goes ({steps} profiled steps; shares of {step_seconds * 1e3:.0f} ms/step)"
    )
    print(f"{'part':<22} {'ms/step':>8} {'GFLOP':>7} {'GFLOP/s':>8} {'of peak':>8} {'best alone ms':>14}")
    for name in GEMM_OPS:
        gflop = family_flops.get(FLOP_OPS[name], 0) / 1e9
        ms = spent.get(name, 0.0) * 1e3
        best = f"{isolated[name] * 1e3:>14.1f}" if name in isolated else f"{'(conv)':>14}"
        rate = gflop / ms * 1e3 if ms else 0.0
        print(f"{name:<22} {ms:>8.1f} {gflop:>7.2f} {rate:>8.1f} {rate * 1e9 / peak:>8.3f} {best}")
    rest = step_seconds - sum(spent.values()) - adamw
    print(f"{'fused AdamW':<22} {adamw * 1e3:>8.1f} {'':>7} {'':>8} {'':>8} {adamw_floor * 1e3:>14.1f}")
    print(
        f"{'everything else':<22} {rest * 1e3:>8.1f}   memory-bound elementwise (norms, activations, casts, autograd)"
    )
    print(
        f"copy bandwidth {bandwidth / 1e9:.1f} GB/s; AdamW moves 28 bytes per parameter ({model_params / 1e6:.1f} M)"
    )
    floor = sum(isolated.values()) + sum(v for k, v in spent.items() if k not in isolated) + adamw
    print(
        f"ceiling: matrix products at their best alone + convolutions and AdamW as measured + 0 elementwise "
        f"= {floor * 1e3:.0f} ms/step -> utilisation <= {flops / floor / peak:.3f} of {PRECISION} peak"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=None, help="a built dataset folder (default: build one)")
    parser.add_argument("--models", default=",".join(tiny_model_names()))
    parser.add_argument("--batch", type=int, default=64, help="captions per batch (2 images each)")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--ops", action="store_true", help="also where the quickstart step's time goes")
    parser.add_argument("--compile", action="store_true", help="also the step with train.compile=true")
    parser.add_argument(
        "--threads",
        type=int,
        default=usable_cpus(),
        help="intra-op threads (default: what a train run with train.threads unset takes here)",
    )
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default=None,
        help="cpu (default for 1 thread): this process's CPU time, which leaves out time other processes "
        "hold the core; wall (default for more threads)",
    )
    args = parser.parse_args()
    args.clock = args.clock or ("cpu" if args.threads == 1 else "wall")
    global clock
    clock = CLOCKS[args.clock]
    torch.set_num_threads(args.threads)
    keep_freed_memory()  # as run_training does (train/allocator.py)
    names = args.models.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        dataset_dir = args.data or build_dataset(Path(tmp))
        steps = {name: step_of(name, dataset_dir, args.batch) for name in names}
        if QUICKSTART_MODEL in names:
            steps[f"{QUICKSTART_MODEL} plain"] = step_of(QUICKSTART_MODEL, dataset_dir, args.batch, True)
            if args.compile:
                compiled = step_of(QUICKSTART_MODEL, dataset_dir, args.batch, compiled=True)
                steps[f"{QUICKSTART_MODEL} compiled"] = compiled
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
        f"threads {args.threads}, batch {args.batch} captions × 2 images, {PRECISION} (train.precision=auto), {args.rounds} interleaved rounds, {args.clock} clock"
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
    if args.ops and QUICKSTART_MODEL in steps:
        step, flops = steps[QUICKSTART_MODEL]
        params = sum(p.numel() for p in create_clip(QUICKSTART_MODEL).model.parameters())
        peak = bf16_peak if PRECISION == "bf16" else fp32_peak
        op_ceilings(step, flops, params, peak, statistics.median(seconds[QUICKSTART_MODEL]))
    if QUICKSTART_MODEL in ratios:
        print(f"utilisation {statistics.median(ratios[QUICKSTART_MODEL]):.3f} of {PRECISION} peak")


if __name__ == "__main__":
    main()
