"""`train.precision: auto`: bf16 autocast only where the hardware runs bf16 matrix products natively.

bf16 autocast is the fast path on CPUs with AMX or AVX512-BF16 (a bf16 GEMM 7x the fp32 one on the Xeon in
docs/performance.md) and on CUDA devices that support bf16; on a CPU without them (AVX2 only, e.g. AMD Zen 3)
oneDNN has no bf16 kernels and a bf16 GEMM ran at 1.3 GFLOP/s against 73 GFLOP/s for fp32: a 1,500-step
quickstart would take hours instead of minutes. `auto` picks bf16 where it is native and fp32 elsewhere;
an explicit `bf16` on such a CPU is honoured with a one-line warning. The resolved value is what the run
records (its config.yaml and checkpoints), so a run states the precision it really trained in.
"""

from __future__ import annotations

import logging

import torch

from synthmphn.config import RunConfig

log = logging.getLogger("synthmphn.train")


def native_bf16(device: str) -> bool:
    """Whether `device` runs bf16 matrix products natively (CUDA bf16 support; CPU oneDNN bf16: AMX/AVX512)."""
    if device.startswith("cuda"):
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if device == "cpu":
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def resolve_precision(precision: str, device: str) -> str:
    """`auto` -> "bf16" where `native_bf16(device)`, else "fp32"; other values unchanged (bf16 warns if slow)."""
    native = native_bf16(device)
    if precision == "auto":
        return "bf16" if native else "fp32"
    if precision == "bf16" and device == "cpu" and not native:
        log.warning(
            "train.precision=bf16 on a CPU without native bf16 (no AMX/AVX512-BF16): matrix products run "
            "far slower than fp32 here; set train.precision=auto (or fp32)"
        )
    return precision


def with_resolved_precision(cfg: RunConfig, device: str) -> RunConfig:
    """A copy of `cfg` whose `train.precision` is resolved for `device` (see `resolve_precision`)."""
    resolved = resolve_precision(cfg.train.precision, device)
    if resolved == cfg.train.precision:
        return cfg
    log.info("train.precision=auto -> %s on %s", resolved, device)
    return cfg.model_copy(update={"train": cfg.train.model_copy(update={"precision": resolved})})
