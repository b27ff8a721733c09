"""The captioner protocol and registry.

A captioner turns images into captions. Pretrained ones (``transformers``) are ready on construction; trained
ones (``embedded``) first `fit` on a small clean subset of (image, caption) pairs, the paper's image-grounded
text decoder trained on S_h. Decoding is greedy or beam search, never sampled, so the same weights and images
always give the same text.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar, Protocol

import torch
from PIL import Image

from synthmphn.data.records import CaptionSpec
from synthmphn.registry import Registry


class Captioner(Protocol):
    """Writes one caption per image; `needs_fit` says whether `fit` must run before `caption`.

    `fit` also gets each pair's `CaptionSpec` where the data has one (what the caption states, for captioners
    that predict it; None where unknown). `save`/`load` persist what `fit` learned (a no-op for pretrained captioners), so a resumed recaption
    run reuses the fitted weights instead of refitting.
    """

    needs_fit: ClassVar[bool]

    def fit(
        self,
        images: list[Image.Image],
        captions: list[str],
        seed: int,
        specs: Sequence[CaptionSpec | None] | None = None,
    ) -> None: ...

    def caption(self, images: list[Image.Image]) -> list[str]: ...

    def save(self, directory: Path) -> None: ...

    def load(self, directory: Path) -> None: ...


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Runs a block with `threads` intra-op threads (restored after); None leaves torch's setting alone."""
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


CAPTIONERS: Registry[type] = Registry("captioner")
"""name -> class constructed as `cls(config: RecaptionConfig)` (see `synthmphn.recaption.create_captioner`)."""
