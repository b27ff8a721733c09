"""SugarCrepe-format compositionality files, so users can run the real benchmark on their own COCO copy.

A file is JSON: a list, or a dict keyed by id, of entries `{"filename", "caption", "negative_caption"}`.
An entry is correct when cos(image, caption) > cos(image, negative_caption) (ties count 1/2, see
`eval.ranking`). The file's stem is its category (e.g. `replace_att`). Images are looked up in
`eval.sugarcrepe_images`, or next to the JSON file when that is unset; every image is checked before
anything is encoded, so a missing one fails fast with the file and the image named.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synthmphn.eval.base import Encoder
from synthmphn.eval.datasets import LazyImages, open_rgb
from synthmphn.eval.features import image_features, text_features
from synthmphn.eval.ranking import pairwise_wins

REQUIRED_KEYS = ("filename", "caption", "negative_caption")


@dataclass(frozen=True)
class SugarCrepeEntry:
    """One test: an image, its true caption and a hard-negative caption."""

    image: Path
    caption: str
    negative: str


def read_sugarcrepe(path: Path, images_dir: Path | None = None) -> list[SugarCrepeEntry]:
    """Entries of one SugarCrepe JSON file with resolved image paths; errors name the file and entry."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: SugarCrepe file not found") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from None
    items = list(data.items()) if isinstance(data, dict) else list(enumerate(data))
    if not items:
        raise ValueError(f"{path}: no entries")
    root = Path(images_dir) if images_dir is not None else path.parent
    entries = []
    for key, item in items:
        if not isinstance(item, dict) or any(k not in item for k in REQUIRED_KEYS):
            raise ValueError(f"{path}: entry {key!r} must have keys {', '.join(REQUIRED_KEYS)}")
        entries.append(
            SugarCrepeEntry(root / str(item["filename"]), str(item["caption"]), str(item["negative_caption"]))
        )
    missing = sorted({e.image for e in entries if not e.image.is_file()})
    if missing:
        raise FileNotFoundError(
            f"{path}: image {missing[0]} not found ({len(missing)} missing; point eval.sugarcrepe_images at the "
            "folder holding the images, e.g. COCO val2017)"
        )
    return entries


def sugarcrepe_wins(encoder: Encoder, entries: list[SugarCrepeEntry], batch_size: int = 256) -> np.ndarray:
    """[E] 1 / 0.5 / 0 per entry: does the image prefer its caption over the negative?"""
    unique = sorted({e.image for e in entries})
    row = {image: i for i, image in enumerate(unique)}
    images = image_features(encoder, LazyImages(unique, open_rgb), batch_size)[
        [row[e.image] for e in entries]
    ]
    captions = text_features(encoder, [e.caption for e in entries])
    negatives = text_features(encoder, [e.negative for e in entries])
    return pairwise_wins((images * captions).sum(axis=1), (images * negatives).sum(axis=1))
