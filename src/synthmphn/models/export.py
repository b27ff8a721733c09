"""A model folder plain open_clip loads as `local-dir:PATH`, so no config registration is needed.

Layout (what open_clip's factory reads for the `local-dir:` schema):

    PATH/open_clip_config.json        {"model_cfg": <the architecture>, "preprocess_cfg": <size, mean, std, ...>}
    PATH/open_clip_model.safetensors  the weights (open_clip's first choice among the names it looks for)

    import open_clip
    model, _, preprocess = open_clip.create_model_and_transforms("local-dir:PATH")
    tokenizer = open_clip.get_tokenizer("local-dir:PATH")

`open_clip_train.main --model local-dir:PATH` starts training from these weights.
"""

from __future__ import annotations

import os
from pathlib import Path

import open_clip
from safetensors.torch import save as safetensors_bytes

from synthmphn.io import atomic_open, atomic_write_json
from synthmphn.models.checkpoint import model_from_checkpoint
from synthmphn.models.factory import ClipParts, create_clip, model_config

CONFIG_FILE = "open_clip_config.json"
WEIGHTS_FILE = "open_clip_model.safetensors"


def write_model_dir(parts: ClipParts, out_dir: str | os.PathLike[str]) -> Path:
    """Writes `parts.model`'s architecture, preprocessing and weights as an open_clip `local-dir:` folder."""
    out = Path(out_dir)
    preprocess = dict(open_clip.get_model_preprocess_cfg(parts.model))
    atomic_write_json(
        out / CONFIG_FILE, {"model_cfg": model_config(parts.name), "preprocess_cfg": preprocess}
    )
    state = {key: value.detach().cpu().contiguous() for key, value in parts.model.state_dict().items()}
    with atomic_open(out / WEIGHTS_FILE) as handle:
        handle.write(safetensors_bytes(state, metadata={"format": "pt", "synthmphn_model": parts.name}))
    return out


def export_model(
    checkpoint: str | os.PathLike[str] | None,
    out_dir: str | os.PathLike[str],
    model_name: str | None = None,
) -> Path:
    """The model of `checkpoint` (ours or open_clip_train's, given `model_name`) as a `local-dir:` folder.

    Without a checkpoint, `model_name`'s freshly initialised weights are written (a starting point for
    open_clip_train with one of our tiny architectures).
    """
    if checkpoint is None:
        if model_name is None:
            raise ValueError("export_model needs a checkpoint or a model name")
        parts = create_clip(model_name)
    else:
        parts = model_from_checkpoint(checkpoint, model_name=model_name)
    return write_model_dir(parts, out_dir)
