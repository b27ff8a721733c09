"""The caption-backend protocol and registry.

A backend turns a seed and a config into `CaptionDraft`s: base captions plus hard negatives that change
exactly one slot (subject or one attribute). Rejected negatives are counted by reason.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

from synthmphn.data.records import CaptionDraft
from synthmphn.registry import Registry


@dataclass
class CaptionResult:
    """What a backend returns: drafts in id order, and rejected-negative counts by reason."""

    drafts: list[CaptionDraft]
    rejections: Counter[str] = field(default_factory=Counter)


class CaptionBackend(Protocol):
    """Writes `n` groups (ids `f"{prefix}{i:07d}"`) deterministically from `seed`."""

    def generate(self, n: int, seed: int, prefix: str = "g") -> CaptionResult: ...


CAPTION_BACKENDS: Registry[type] = Registry("caption backend")
"""name -> class constructed as `cls(config: CaptionsConfig)` (see `synthmphn.captions.create_caption_backend`)."""
