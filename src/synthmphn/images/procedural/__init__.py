"""Embedded procedural generators: `procedural:<style>` draws a `CaptionSpec` in one of the styles.

Styles: flat, sketch, photo, pixel, painterly (training) and mosaic (held out). Every style draws every
subject in `SUPPORTED_SUBJECTS` (digits 'digit 0'..'digit 9', geometric shapes, everyday objects) and
renders colour, size, position, count, texture and background. Same (spec, seed, size) -> same pixels.
The STYLES registry sits beside the `Style` base class in render.py, the built-in styles in styles.py
(imported here, so they are registered); `create_style(name)` is the family's one factory.
"""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image

from synthmphn.config import ImagesConfig
from synthmphn.data.records import CaptionSpec
from synthmphn.images.base import GENERATORS
from synthmphn.images.procedural import styles  # noqa: F401  (registers the built-in styles)
from synthmphn.images.procedural.palette import supported_backgrounds, supported_colours
from synthmphn.images.procedural.render import STYLES, Style, render_scene
from synthmphn.images.procedural.scene import POSITIONS, SIZES, parse_scene
from synthmphn.images.procedural.subjects import SUBJECT_CATEGORIES, SUPPORTED_SUBJECTS, canonical_subject
from synthmphn.images.procedural.textures import TEXTURES

__all__ = [
    "HELDOUT_STYLES",
    "POSITIONS",
    "SIZES",
    "STYLES",
    "SUBJECT_CATEGORIES",
    "SUPPORTED_SUBJECTS",
    "TEXTURES",
    "TRAINING_STYLES",
    "ProceduralGenerator",
    "canonical_subject",
    "create_procedural_generator",
    "create_style",
    "supported_backgrounds",
    "supported_colours",
]


TRAINING_STYLES = tuple(name for name in STYLES.names() if not STYLES.get(name).heldout)
HELDOUT_STYLES = tuple(name for name in STYLES.names() if STYLES.get(name).heldout)


def create_style(name: str) -> Style:
    """The registered style `name` (KeyError listing the styles otherwise)."""
    return STYLES.get(name)


class ProceduralGenerator:
    """An `ImageGenerator` for one procedural style; needs each caption's `CaptionSpec` (prompts are unused)."""

    def __init__(self, style: Style, size: int) -> None:
        self.style = style
        self.size = size
        self.name = f"procedural:{style.name}"

    def generate(
        self, prompts: Sequence[str], specs: Sequence[CaptionSpec | None], seeds: Sequence[int]
    ) -> list[Image.Image]:
        """One RGB size x size image per (spec, seed); raises ValueError for a missing spec or unknown subject."""
        if not len(prompts) == len(specs) == len(seeds):
            raise ValueError(
                f"{self.name}: got {len(prompts)} prompts, {len(specs)} specs, {len(seeds)} seeds"
            )
        images = []
        for prompt, spec, seed in zip(prompts, specs, seeds, strict=True):
            if spec is None:
                raise ValueError(f"{self.name} renders from a CaptionSpec, but caption {prompt!r} has none")
            images.append(render_scene(self.style, parse_scene(spec, self.name), int(seed), self.size))
        return images


@GENERATORS.register("procedural")
def create_procedural_generator(
    arg: str, size: int, config: ImagesConfig | None = None
) -> ProceduralGenerator:
    """Factory for `procedural:<style>`; an unknown style raises KeyError listing the styles."""
    return ProceduralGenerator(create_style(arg), size)
