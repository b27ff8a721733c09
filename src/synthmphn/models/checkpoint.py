"""Checkpoints that open_clip itself can load: the file format, its writer and its reader.

What a training checkpoint holds, and how a resume restores it, is `train.checkpoints` (the one place);
this module is the envelope every reader shares: eval and recaption load models from it without train/.

Layout (a plain dict saved with torch.save):

    {"state_dict": <open_clip model state dict, no DDP "module." prefix>,
     "synthmphn": {"model_name": "synth-tiny-vit", <training state: step, optimizer, sampler, ...>}}

open_clip reads the "state_dict" key, so `open_clip.create_model_and_transforms(name, pretrained=path)`
loads our checkpoints (after `open_clip.add_model_config(synthmphn.models.CONFIG_DIR)` for our tiny
names). Everything in the file loads with `torch.load(weights_only=True)`: the training state may only
hold tensors, dicts, lists, tuples, numbers, strings, booleans and None (no numpy, no custom classes).
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

import torch
from torch import nn

from synthmphn.io import atomic_open
from synthmphn.models.factory import MODEL_NAME_ATTR, ClipParts, create_clip

_SAFE_LEAVES = (torch.Tensor, int, float, bool, str, type(None))


def unwrap_model(model: nn.Module) -> nn.Module:
    """The module inside DDP / DataParallel / torch.compile wrappers (the model itself otherwise)."""
    while True:
        if hasattr(model, "module") and isinstance(model.module, nn.Module):
            model = model.module
        elif hasattr(model, "_orig_mod") and isinstance(model._orig_mod, nn.Module):
            model = model._orig_mod
        else:
            return model


def check_weights_only_safe(value: Any, where: str = "training_state") -> None:
    """Raises TypeError naming the first entry that `torch.load(weights_only=True)` could not read."""
    if isinstance(value, _SAFE_LEAVES):
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, int | str):
                raise TypeError(f"{where}: key {key!r} must be a str or int, not {type(key).__name__}")
            check_weights_only_safe(item, f"{where}[{key!r}]")
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            check_weights_only_safe(item, f"{where}[{index}]")
        return
    raise TypeError(
        f"{where} is a {type(value).__module__}.{type(value).__name__}; checkpoints may only hold tensors, "
        "dicts, lists, numbers, strings and None (convert numpy arrays with torch.as_tensor, "
        "numpy scalars with .item())"
    )


def save_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module,
    training_state: Mapping[str, Any] | None = None,
    model_name: str | None = None,
) -> Path:
    """Atomically writes `model`'s weights and `training_state` to `path` (layout in the module docstring).

    The model name is taken from `model_name`, else `training_state["model_name"]`, else the name
    `create_clip` recorded on the model. Returns the path written.
    """
    state = dict(training_state or {})
    inner = unwrap_model(model)
    name = model_name or state.pop("model_name", None) or getattr(inner, MODEL_NAME_ATTR, None)
    if not name:
        raise ValueError(
            f"{path}: cannot tell the model name; pass model_name= or build the model with create_clip"
        )
    state.pop("model_name", None)
    check_weights_only_safe(state)
    checkpoint = {"state_dict": inner.state_dict(), "synthmphn": {"model_name": name, **state}}
    path = Path(path)
    with atomic_open(path) as handle:
        writer = _ErrorKeepingWriter(handle)
        try:
            torch.save(checkpoint, writer)
        except RuntimeError:
            # torch turns a failed write (disk full) into an opaque "unexpected pos" RuntimeError; raise
            # the OSError itself, which atomic_open names with `path` ("no space left writing PATH")
            if writer.error is not None:
                raise writer.error from None
            raise
    return path


class _ErrorKeepingWriter:
    """A file wrapper for torch.save that remembers the OSError of a failed write."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.error: OSError | None = None

    def write(self, data: bytes) -> int:
        try:
            return self.handle.write(data)
        except OSError as err:
            self.error = err
            raise

    def flush(self) -> None:
        self.handle.flush()


def load_checkpoint(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Reads a checkpoint with weights_only=True; errors name the file when it is missing or corrupt."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint not found")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError) as err:
        raise ValueError(f"{path}: not a readable checkpoint ({type(err).__name__}: {err})") from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise ValueError(f"{path}: not a synthmphn/open_clip checkpoint (no 'state_dict' entry)")
    checkpoint.setdefault("synthmphn", {})
    return checkpoint


def model_from_checkpoint(
    path: str | os.PathLike[str],
    device: str | torch.device = "cpu",
    model_name: str | None = None,
    augment: bool = True,
) -> ClipParts:
    """Rebuilds the model a checkpoint was saved from (name read from the file unless `model_name`)."""
    checkpoint = load_checkpoint(path)
    name = model_name or checkpoint["synthmphn"].get("model_name")
    if not name:
        raise ValueError(
            f"{path}: the checkpoint records no model name (open_clip_train's epoch_N.pt does not); "
            "pass eval.model_name=NAME, e.g. synth-tiny-vit or local-dir:FOLDER written by `synthmphn export`"
        )
    parts = create_clip(name, device="cpu", augment=augment, weights_follow=True)
    state_dict = checkpoint["state_dict"]
    if next(iter(state_dict), "").startswith("module."):
        state_dict = {key.removeprefix("module."): value for key, value in state_dict.items()}
    try:
        parts.model.load_state_dict(state_dict, strict=True)
    except RuntimeError as err:
        raise ValueError(f"{path}: weights do not fit model {name!r} ({err})") from None
    parts.model.to(device)
    return parts
