"""The fixed reference model that judges generators, independent of the model a run trains.

Recognizability must not be measured with the model under evaluation (a model that learnt little would
call every generator unrecognizable). `eval.reference_model` names the reference:

- a name in `REFERENCES` (name -> factory(device, batch_size) -> Reference). `embedded` (the default) is
  registered by the `synthmphn.analyse` package (`analyse.embedded`): a small classifier trained once on
  renders of the built-in concept bank. It needs captions/ and images/, which eval may not import, so
  whoever runs eval imports `synthmphn.analyse` first (cli, experiment runner).
- otherwise any open_clip model (`"<name>:<pretrained tag or file>"`, `"<name>"` for random weights, or a
  synthmphn checkpoint file): zero-shot over the dataset's class names with the caption-like templates.
  Use it for generators the embedded world cannot judge (diffusers pools, user concept banks).

A reference gives, for images and class names, logits over those classes and L2-normalised features
(diversity is measured in the reference's feature space too, so the whole map is independent of the run).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from synthmphn.eval.datasets import CAPTION_TEMPLATES
from synthmphn.eval.features import image_features
from synthmphn.eval.zeroshot import classifier_weights
from synthmphn.models.checkpoint import model_from_checkpoint
from synthmphn.models.encoder import ClipEncoder
from synthmphn.models.factory import create_clip
from synthmphn.registry import Registry

EMBEDDED = "embedded"


class Reference(Protocol):
    """Judges images: logits over given class names and normalised features."""

    name: str

    def judge(
        self, images: Sequence[Image.Image], classnames: list[str]
    ) -> tuple[np.ndarray, np.ndarray]: ...


ReferenceFactory = Callable[[str, int], Reference]  # (device, batch_size) -> Reference
REFERENCES: Registry[ReferenceFactory] = Registry("reference model")


def cache_dir() -> Path:
    """Where trained references live: $SYNTHMPHN_CACHE, else ~/.cache/synthmphn."""
    return Path(os.environ.get("SYNTHMPHN_CACHE") or Path.home() / ".cache" / "synthmphn")


class ClipReference:
    """An open_clip model as a zero-shot reference over the class names (caption-like templates)."""

    def __init__(self, encoder: object, name: str, batch_size: int = 256) -> None:
        self.encoder = encoder
        self.name = name
        self.batch_size = batch_size

    def judge(self, images: Sequence[Image.Image], classnames: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(100 * cosine logits over `classnames`, normalised image features)."""
        weights = classifier_weights(self.encoder, classnames, list(CAPTION_TEMPLATES))  # type: ignore[arg-type]
        features = image_features(self.encoder, images, self.batch_size)  # type: ignore[arg-type]
        return 100.0 * features @ weights.T, features


def clip_reference(spec: str, device: str = "cpu", batch_size: int = 256) -> ClipReference:
    """`<open_clip name>:<pretrained tag or file>`, `<name>` (random weights) or a synthmphn checkpoint file."""
    if Path(spec).is_file():
        parts = model_from_checkpoint(spec, device=device, augment=False)
    else:
        name, _, pretrained = spec.partition(":")
        parts = create_clip(name, pretrained=pretrained or None, device=device, augment=False)
    return ClipReference(ClipEncoder(parts, device=device, batch_size=batch_size), spec, batch_size)


def load_reference(spec: str = EMBEDDED, device: str = "cpu", batch_size: int = 256) -> Reference:
    """The reference named by `eval.reference_model`: a registered name (`REFERENCES`) or an open_clip model."""
    if spec in REFERENCES:
        return REFERENCES.get(spec)(device, batch_size)
    if spec == EMBEDDED:
        raise ValueError(
            f"eval.reference_model={EMBEDDED!r} is not registered: import synthmphn.analyse (it registers "
            "the embedded reference) or set eval.reference_model to an open_clip model '<name>:<pretrained>'"
        )
    return clip_reference(spec, device, batch_size)
