"""Embedded procedural generators: `procedural:<style>` draws a `CaptionSpec` in one of the styles.

Styles: flat, sketch, photo, pixel, painterly, ink (training) and mosaic (held out). Every style draws every
subject in `SUPPORTED_SUBJECTS` (digits 'digit 0'..'digit 9', geometric shapes, everyday objects) and
renders colour, size, position, count, texture and background. Same (spec, seed, size) -> same pixels.
The STYLES registry sits beside the `Style` base class in render.py, the built-in styles in styles.py
and ink.py (imported here, so they are registered); `create_style(name)` is the family's one factory.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from PIL import Image

from synthmphn.config import ImagesConfig
from synthmphn.data.records import CaptionSpec
from synthmphn.images.base import GENERATORS
from synthmphn.images.procedural import styles  # noqa: F401  (registers the built-in styles)
from synthmphn.images.procedural.failures import Decision, decide, diverse_style, render_seed_of
from synthmphn.images.procedural.ink import InkStyle
from synthmphn.images.procedural.palette import supported_backgrounds, supported_colours
from synthmphn.images.procedural.render import STYLES, Style, render_scene
from synthmphn.images.procedural.scene import POSITIONS, SIZES, parse_scene
from synthmphn.images.procedural.subjects import SUBJECT_CATEGORIES, SUPPORTED_SUBJECTS, canonical_subject
from synthmphn.images.procedural.textures import TEXTURES
from synthmphn.images.profiles import DEFAULT_PROFILE, Profile, split_profile

__all__ = [
    "InkStyle",
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
    "drawn_record",
    "profiled_generator",
    "supported_backgrounds",
    "supported_colours",
]


TRAINING_STYLES = tuple(name for name in STYLES.names() if not STYLES.get(name).heldout)
HELDOUT_STYLES = tuple(name for name in STYLES.names() if STYLES.get(name).heldout)


def create_style(name: str) -> Style:
    """The registered style `name` (KeyError listing the styles otherwise)."""
    return STYLES.get(name)


class ProceduralGenerator:
    """An `ImageGenerator` for one procedural style and profile; needs each caption's `CaptionSpec`.

    The profile (`images.profiles`) decides per image which failure, if any, is drawn, and scales the
    style's ranges; `decision(spec, seed)` says what an image shows without rendering it.
    """

    def __init__(self, style: Style, size: int, profile: Profile = DEFAULT_PROFILE, query: str = "") -> None:
        self.style = style
        self.size = size
        self.profile = profile
        self.render_style = diverse_style(style, profile.diversity)
        self.name = f"procedural:{style.name}" + (f"?{query}" if query else "")

    def decision(self, spec: CaptionSpec, seed: int) -> Decision:
        """The scene this generator really draws for (spec, seed), with its failure (None when faithful)."""
        scene = parse_scene(spec, self.name)
        render_seed = render_seed_of(int(seed), self.profile.diversity)
        return decide(self.profile, scene, int(seed), self.render_style, render_seed)

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
            if self.profile.is_default:
                images.append(render_scene(self.style, parse_scene(spec, self.name), int(seed), self.size))
                continue
            drawn = self.decision(spec, seed)
            render_seed = render_seed_of(int(seed), self.profile.diversity)
            images.append(render_scene(self.render_style, drawn.scene, render_seed, self.size, drawn.tweaks))
        return images


@GENERATORS.register("procedural")
def create_procedural_generator(
    arg: str, size: int, config: ImagesConfig | None = None
) -> ProceduralGenerator:
    """Factory for `procedural:<style>[?profile]`; an unknown style raises KeyError listing the styles, a bad
    profile ValueError naming the entry and key (see `images.profiles`)."""
    base, profile = split_profile(arg, f"procedural:{arg}")
    return ProceduralGenerator(create_style(base), size, profile, arg.partition("?")[2])


@lru_cache(maxsize=256)
def profiled_generator(arg: str, size: int = 32) -> ProceduralGenerator:
    """A cached generator for `procedural:<arg>` (for asking what an image shows; size is irrelevant there)."""
    return create_procedural_generator(arg, size)


def drawn_record(generator: str, spec: CaptionSpec | None, seed: int) -> tuple[str | None, dict | None]:
    """(failure, what was drawn instead) of the image `generator` draws for (spec, seed); (None, None)
    for a faithful image, an unprofiled generator or a generator that is not procedural."""
    kind, _, arg = generator.partition(":")
    if kind != "procedural" or "?" not in arg or spec is None:
        return None, None
    decision = profiled_generator(arg).decision(spec, seed)
    return decision.failure, decision.drawn
