"""One entry point that builds an open_clip model with its transforms and tokenizer.

open_clip is the real dependency: the architectures, weights loading and BPE tokenizer are its own.
This module only adds our tiny configs (`models/configs/*.json`) and a train transform that suits
synthetic images stored at training size.

Train transform. open_clip's default train transform is RandomResizedCrop(size, scale=(0.9, 1.0),
ratio=(3/4, 4/3), bicubic) + normalise, with no flip. Our images are rendered at the model's size, so
there is nothing to crop away: `augment=False` uses the deterministic eval transform (resize +
centre crop, an identity at native size, then normalise) for training too, and `augment=True` uses a
light RandomResizedCrop(scale=(0.8, 1.0)) (open_clip keeps torchvision's aspect ratio range 3/4..4/3).
Horizontal flips are disabled on purpose: a flip turns "a cat on the left" into a picture of "a cat on
the right", so it would make the position captions (and their hard negatives) wrong.

Tiny configs: `synth-tiny-vit` (32 px, patch 4), `synth-tiny-vit-64` (64 px, patch 8), `synth-tiny-cnn`
(open_clip's ModifiedResNet, width 16, one block per stage, 64 px; `-32`: width 32 at 32 px),
`synth-tiny-convnext-32` (timm's `test_convnext`, a 0.2M-parameter LayerNorm ConvNeXt, 32 px: a CNN
without BatchNorm, so torchrun on CPU equals one process) and `synth-tiny-sigmoid` (tiny vit
with SigLIP's initial logit scale 10 and bias -10, for the `siglip` loss). All share a 4-layer,
128-wide text tower with open_clip's BPE tokenizer (context 32) and a 128-d embedding. No config name
contains "siglip": open_clip's get_tokenizer gives any such name the SigLIP sentencepiece tokenizer
(downloaded from the Hub), which would not match our BPE text tower.

Speed switches for training (measured side by side in docs/performance.md; both compute the same function
up to bf16 rounding, and neither changes the state_dict keys or shapes, so checkpoints stay plain open_clip):
`attention_backend` runs scaled-dot-product attention with the math kernel on CPU (our sequences are ≤ 32
tokens, where CPU flash attention's tiling costs more than it saves, mostly in its backward), and
`to_channels_last` stores a ResNet tower's conv weights NHWC, the layout oneDNN's convolutions use natively
(the NCHW default reorders every activation and gradient).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import open_clip
import torch
from open_clip.modified_resnet import ModifiedResNet
from PIL import Image
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

CONFIG_DIR = Path(__file__).parent / "configs"
"""Folder of our tiny open_clip model configs (one JSON file per model, file stem = model name)."""

LIGHT_AUGMENTATION: dict[str, Any] = {"scale": (0.8, 1.0)}
"""open_clip `aug_cfg` for `augment=True`: a light random resized crop, no flip (see module docstring)."""

MODEL_NAME_ATTR = "synthmphn_model_name"
"""Attribute `create_clip` sets on the model so `save_checkpoint` can record the model name."""

_SCHEMA_PREFIXES = ("hf-hub:", "local-dir:")


@dataclass
class ClipParts:
    """A model with everything needed to feed it: transforms for train/eval images and the tokenizer."""

    model: nn.Module
    preprocess_train: Callable[[Image.Image], torch.Tensor]
    preprocess_val: Callable[[Image.Image], torch.Tensor]
    tokenizer: Callable[[list[str]], torch.Tensor]
    name: str

    @property
    def image_size(self) -> int:
        """Side length in pixels that the vision tower expects."""
        size = self.model.visual.image_size
        return int(size[0] if isinstance(size, tuple | list) else size)

    @property
    def embed_dim(self) -> int:
        """Dimension of the shared image/text embedding space."""
        return int(model_config(self.name)["embed_dim"])


def model_config(name: str) -> dict[str, Any]:
    """open_clip's config dict of `name`: a registered name, or `local-dir:PATH`'s open_clip_config.json."""
    register_model_configs()
    key = name if name.startswith(_SCHEMA_PREFIXES) else name.replace("/", "-")
    config = open_clip.get_model_config(key)
    if config is None:
        raise ValueError(f"open_clip has no config for model {name!r}")
    return dict(config)


class _DropRandomInitWarning(logging.Filter):
    """Drops open_clip's "No pretrained weights loaded ... initialized randomly" (weights load right after)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("No pretrained weights loaded")


@contextmanager
def _weights_load_next() -> Iterator[None]:
    """While open_clip builds a model whose weights the caller loads next, its random-init warning is dropped."""
    root = logging.getLogger()
    dropper = _DropRandomInitWarning()
    root.addFilter(dropper)
    try:
        yield
    finally:
        root.removeFilter(dropper)


def tiny_model_names() -> list[str]:
    """Names of our tiny configs (the JSON file stems in `CONFIG_DIR`)."""
    return sorted(path.stem for path in CONFIG_DIR.glob("*.json"))


def describe_models() -> dict[str, str]:
    """Our tiny configs, name -> one line read from the config itself (what `synthmphn list models` prints)."""
    register_model_configs()
    return {name: describe_model(name) for name in tiny_model_names()}


def describe_model(name: str) -> str:
    """One line on an open_clip architecture from its JSON config: vision tower, image size, text tower, embed."""
    config = open_clip.get_model_config(name)
    if config is None:
        raise ValueError(f"unknown model {name!r}; our tiny configs: {', '.join(tiny_model_names())}")
    vision, text = config["vision_cfg"], config["text_cfg"]
    if "timm_model_name" in vision:  # a timm trunk (synth-tiny-convnext-32: timm's LayerNorm ConvNeXt)
        tower = f"timm {vision['timm_model_name']} ({vision.get('timm_pool', 'avg')} pool)"
    elif isinstance(vision["layers"], list | tuple):  # open_clip's ModifiedResNet: blocks per stage
        blocks = "-".join(str(n) for n in vision["layers"])
        tower = f"ResNet (blocks {blocks}, width {vision['width']})"
    else:
        tower = f"ViT (patch {vision['patch_size']}, {vision['layers']} layers x {vision['width']})"
    line = (
        f"{tower} on {vision['image_size']} px; text {text['layers']} layers x {text['width']}, "
        f"context {text['context_length']}; embed {config['embed_dim']}"
    )
    if "init_logit_bias" in config:
        line += f"; sigmoid logits (bias {config['init_logit_bias']})"
    return line


def register_model_configs() -> None:
    """Registers `CONFIG_DIR` with open_clip once (repeated calls are no-ops)."""
    if not set(tiny_model_names()) <= set(open_clip.list_models()):
        open_clip.add_model_config(CONFIG_DIR)


def check_model_name(name: str) -> None:
    """Raises ValueError for a name open_clip does not know, listing our tiny configs."""
    register_model_configs()
    if name.startswith(_SCHEMA_PREFIXES) or name.replace("/", "-") in open_clip.list_models():
        return
    raise ValueError(
        f"unknown model {name!r}; our tiny configs: {', '.join(tiny_model_names())}. "
        "Any open_clip architecture name also works (see open_clip.list_models(), e.g. ViT-B-32), and a "
        "new architecture is one JSON file registered with open_clip.add_model_config(dir)."
    )


def create_clip(
    name: str,
    pretrained: str | os.PathLike[str] | None = None,
    device: str | torch.device = "cpu",
    precision: str = "fp32",
    augment: bool = True,
    weights_follow: bool = False,
) -> ClipParts:
    """Builds `name` with open_clip.create_model_and_transforms and open_clip.get_tokenizer.

    `pretrained` is a checkpoint file (ours or any open_clip state dict) or an open_clip pretrained
    tag (tags download weights, so they need network). `precision` is passed to open_clip ("fp32",
    "bf16", "fp16", ...: it casts the weights; for mixed-precision training keep "fp32" and autocast).
    `augment` picks the train transform (see module docstring); the val transform never augments.
    `weights_follow=True` says the caller loads weights right after (a checkpoint), so open_clip's
    "initialized randomly" warning, true only for an instant, is not printed. `local-dir:PATH` names a
    folder written by `synthmphn export` (or any open_clip_config.json + weights folder).
    """
    check_model_name(name)
    if pretrained is not None and _looks_like_path(pretrained) and not Path(pretrained).is_file():
        raise FileNotFoundError(f"{pretrained}: pretrained checkpoint not found (model {name!r})")
    quiet = _weights_load_next() if weights_follow and pretrained is None else nullcontext()
    with quiet:
        model, preprocess_train, preprocess_val = open_clip.create_model_and_transforms(
            name,
            pretrained=None if pretrained is None else str(pretrained),
            device=device,
            precision=precision,
            aug_cfg=dict(LIGHT_AUGMENTATION),
        )
    if not augment:
        preprocess_train = preprocess_val
    setattr(model, MODEL_NAME_ATTR, name)
    return ClipParts(
        model=model,
        preprocess_train=preprocess_train,
        preprocess_val=preprocess_val,
        tokenizer=open_clip.get_tokenizer(name),
        name=name,
    )


def _looks_like_path(pretrained: str | os.PathLike[str]) -> bool:
    """True for file paths (a separator or a checkpoint suffix), False for open_clip tags like 'openai'."""
    text = str(pretrained)
    return (
        isinstance(pretrained, os.PathLike)
        or os.sep in text
        or text.endswith((".pt", ".pth", ".bin", ".safetensors"))
    )


def attention_backend(device: str | torch.device = "cpu") -> AbstractContextManager[object]:
    """Context for a forward pass: the math SDPA kernel on CPU (faster for short sequences), else torch's pick.

    The kernel chosen in the forward also runs the backward, so wrapping the forward is enough.
    """
    return sdpa_kernel(SDPBackend.MATH) if torch.device(device).type == "cpu" else nullcontext()


def to_channels_last(model: nn.Module) -> nn.Module:
    """Stores a ResNet vision tower's 4-D weights in channels_last (NHWC) layout, in place; returns `model`.

    Other towers are left as they are (a ViT has a single patch convolution). The values, names and shapes
    of the parameters do not change, so `state_dict` loads into a model in the default layout.
    """
    visual = getattr(model, "visual", None)
    if isinstance(visual, ModifiedResNet):
        visual.to(memory_format=torch.channels_last)
    return model
