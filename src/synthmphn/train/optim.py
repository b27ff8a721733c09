"""Optimiser and learning-rate schedule, as open_clip sets them up.

AdamW with betas (0.9, 0.98), eps 1e-6; weight decay only on matrices: parameters with fewer than 2
dimensions, biases, norm layers ("ln"/"bn" in the name) and the logit scale/bias are not decayed (open_clip's
rule; 2-D embeddings such as the token embedding *are* decayed there too).

The update runs as torch's fused AdamW kernel (one pass over each parameter's tensors instead of a dozen
elementwise ops): the same formula, and the same state_dict (exp_avg, exp_avg_sq, step), so a checkpoint
resumes into either implementation. Measured 5-10 % off a synth-tiny-cnn-32 step on CPU (docs/performance.md).

Learning rate at optimiser step k (0-based), warm-up W steps, T steps in all, base rate η:

    lr(k) = η · (k + 1) / W                              for k < W
    lr(k) = η · ½ · (1 + cos(π · (k − W) / (T − W)))     otherwise
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

BETAS = (0.9, 0.98)
EPS = 1e-6
MAX_LOGIT_SCALE = math.log(100.0)


def no_decay(name: str, param: nn.Parameter) -> bool:
    """open_clip's rule: biases, norms, gains and scalars (ndim < 2) and the logit scale/bias are not decayed."""
    return param.ndim < 2 or "bn" in name or "ln" in name or "bias" in name or "logit_scale" in name


def create_optimizer(
    model: nn.Module, lr: float, weight_decay: float, fused: bool | None = None
) -> torch.optim.AdamW:
    """AdamW over the trainable parameters, in two groups: decayed matrices and undecayed rest.

    `fused` picks torch's fused kernel; None uses it whenever it applies (floating-point parameters on
    CPU or CUDA), False gives the plain for-loop implementation (the reference in tests).
    """
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    decay = [p for n, p in named if not no_decay(n, p)]
    rest = [p for n, p in named if no_decay(n, p)]
    groups = [{"params": rest, "weight_decay": 0.0}, {"params": decay, "weight_decay": weight_decay}]
    if fused is None:
        fused = all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for _, p in named)
    return torch.optim.AdamW(groups, lr=lr, betas=BETAS, eps=EPS, fused=fused or None)


def total_grad_norm(grads: list[torch.Tensor]) -> torch.Tensor:
    """‖g‖₂ over all `grads` together: √(Σ_t g_t · g_t), what get_total_norm computes. On CPU each dense
    gradient's square sum is one BLAS dot (half the time of `linalg.vector_norm` on the 6.3 M-entry token
    embedding gradient, fp32 accumulation either way); other devices and layouts use get_total_norm's norms."""
    if not grads or any(g.device.type != "cpu" for g in grads):
        return torch.nn.utils.get_total_norm(grads)
    squares = [
        torch.dot(g.view(-1), g.view(-1)) if g.is_contiguous() else torch.linalg.vector_norm(g).square()
        for g in grads
    ]
    return torch.stack(squares).sum().sqrt()


@contextmanager
def clipped_update(
    optimizer: torch.optim.Optimizer,
    params: list[torch.Tensor],
    total_norm: torch.Tensor,
    max_norm: float | None,
    scaled: bool = False,
) -> Iterator[None]:
    """Clips the gradients of `params` for the optimiser step run inside the block, as clip_grad_norm_ does:
    g ← g · min(1, max_norm / (‖g‖ + 1e-6)), ‖g‖ = `total_norm` over all of them. None clips nothing.

    A fused AdamW (unless a GradScaler is `scaled`, which owns that hook) applies the factor as it reads
    each gradient, through its `grad_scale` divisor max(1, (‖g‖ + 1e-6) / max_norm) — the hook GradScaler
    uses for fused optimisers —, which saves a pass over every gradient (~2.5 ms of a ~105 ms quickstart
    step, docs/performance.md); the update equals clip-then-step to float rounding. Otherwise the gradients
    are scaled in place first.
    """
    if max_norm is None:
        yield
    elif optimizer.defaults.get("fused") and not scaled:
        optimizer.grad_scale = torch.clamp((total_norm + 1e-6) / max_norm, min=1.0)  # type: ignore[attr-defined]
        try:
            yield
        finally:
            del optimizer.grad_scale  # type: ignore[attr-defined]
    else:
        torch.nn.utils.clip_grads_with_norm_(params, max_norm, total_norm)
        yield


def lr_at(step: int, base_lr: float, warmup_steps: int, total_steps: int) -> float:
    """Linear warm-up then cosine decay to 0 (formula in the module docstring), open_clip's `cosine_lr`."""
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    decay_steps = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / decay_steps)
    return 0.5 * (1.0 + math.cos(math.pi * progress)) * base_lr


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Sets every parameter group's learning rate."""
    for group in optimizer.param_groups:
        group["lr"] = lr


@torch.no_grad()
def init_logit_scale(model: nn.Module, scale: float | None) -> None:
    """Sets the log-space logit scale to ln(`scale`) (train.logit_scale_init); None leaves the model's init."""
    logit_scale = getattr(model, "logit_scale", None)
    if scale is not None and isinstance(logit_scale, torch.Tensor):
        logit_scale.fill_(math.log(scale))


@torch.no_grad()
def clamp_logit_scale(model: nn.Module) -> None:
    """Keeps the log-space logit scale in [0, ln 100] after each step, as open_clip does (s ≤ 100)."""
    scale = getattr(model, "logit_scale", None)
    if isinstance(scale, torch.Tensor):
        scale.clamp_(0.0, MAX_LOGIT_SCALE)
