"""A CLIP forward pass whose text tower runs only the columns the batch's captions reach (same function).

open_clip pads every caption to the context length (32 for our towers), and its `CLIP.encode_text` always runs
all 32 positions. Our captions are short: on the quickstart dataset a 64-caption batch's longest caption is
13–22 tokens (median 17), so about half of the text tower's work is on padding that cannot change the output:

- the text transformer's attention mask is causal (position i attends to j ≤ i), and layer norm, the MLP and
  the positional embedding act per position, so position i's activations depend on columns 0..i only;
- the pooled feature is position `tokens.argmax(-1)` (the end-of-text token, the highest id; open_clip's
  `text_pool_type == "argmax"`).

So cutting the token matrix to its first L = max(argmax) + 1 columns, with the positional embedding and the
mask cut to L, gives the same features and the same gradients (up to summation order in the matrix products).
The cut tensors are slices of the real parameter and buffer, swapped in for one call with
`torch.func.functional_call`, so gradients reach the full positional embedding and nothing in the model or its
`state_dict` changes. A model whose text tower is not causal with argmax pooling (a custom text tower, CoCa's,
a non-causal mask) runs uncut.

Under DistributedDataParallel every rank cuts to the longest caption over all ranks (one all-reduce of an
integer per step): DDP requires the same parameter and buffer shapes on every rank, and this gives each rank
exactly the cut a single process would make on the global batch.

A compiled model (train.compile) specialises on shapes, so for it L is rounded up to a multiple of
`COMPILED_MULTIPLE` to bound the recompiles (16 and 24 cover the quickstart).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.func import functional_call
from torch.nn.parallel import DistributedDataParallel

COMPILED_MULTIPLE = 8
"""A compiled model's text length is rounded up to a multiple of this (one compile per length)."""


def causal_context(model: nn.Module) -> int | None:
    """The context length of `model`'s text tower if a prefix of its columns gives the same features, else None.

    True for open_clip's `CLIP` with a causal attention mask and argmax pooling (every shipped config).
    """
    mask = getattr(model, "attn_mask", None)
    positions = getattr(model, "positional_embedding", None)
    if getattr(model, "text_pool_type", None) != "argmax" or mask is None or positions is None:
        return None
    context = positions.shape[0]
    if tuple(mask.shape) != (context, context):
        return None
    above = torch.ones(context, context, dtype=torch.bool, device=mask.device).triu(1)
    return context if bool(torch.isneginf(mask[above]).all()) else None


def text_columns(tokens: torch.Tensor, multiple: int = 1) -> int:
    """Columns that decide the pooled features: the last end-of-text position + 1, rounded up to `multiple`."""
    needed = int(tokens.argmax(dim=-1).max()) + 1
    return min(tokens.shape[1], -(-needed // multiple) * multiple)


def is_compiled(model: nn.Module) -> bool:
    """True after `model.compile()` (torch keeps the compiled forward in `_compiled_call_impl`)."""
    return getattr(model, "_compiled_call_impl", None) is not None


def longest_over_ranks(length: int, device: torch.device, group: object = None) -> int:
    """The largest `length` over the ranks of `group` (all ranks must call this)."""
    value = torch.tensor([length], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX, group=group)
    return int(value.item())


def clip_forward(model: nn.Module, images: torch.Tensor, tokens: torch.Tensor) -> Any:
    """`model(images, tokens)`, with the text tower cut to the columns the captions use (module docstring).

    `model` may be wrapped in DistributedDataParallel: its parameter names then start with "module.".
    """
    inner = getattr(model, "module", model)
    context = causal_context(inner)
    if context is None or tokens.shape[1] != context:
        return model(images, tokens)
    length = text_columns(tokens, COMPILED_MULTIPLE if is_compiled(model) else 1)
    if isinstance(model, DistributedDataParallel):
        length = longest_over_ranks(length, tokens.device, model.process_group)
    if length == context:
        return model(images, tokens)
    prefix = "" if inner is model else "module."
    cut = {
        f"{prefix}positional_embedding": inner.positional_embedding[:length],
        f"{prefix}attn_mask": inner.attn_mask[:length, :length],
    }
    return functional_call(model, cut, (images, tokens[:, :length]), strict=False, tie_weights=False)
