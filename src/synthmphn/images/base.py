"""The generator protocol and registry.

Pool entries are strings `"<kind>:<arg>"`: `procedural:flat` (an embedded style),
`diffusers:/path/to/pipeline` (a local text-to-image pipeline). The registry maps `<kind>` to a factory
`factory(arg: str, size: int, config: ImagesConfig) -> ImageGenerator`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from PIL import Image

from synthmphn.config import ImagesConfig
from synthmphn.data.records import CaptionSpec
from synthmphn.registry import Registry


class ImageGenerator(Protocol):
    """Renders one image per (prompt, spec, seed); the same inputs always give the same pixels."""

    name: str

    def generate(
        self, prompts: Sequence[str], specs: Sequence[CaptionSpec | None], seeds: Sequence[int]
    ) -> list[Image.Image]: ...


GeneratorFactory = Callable[[str, int, ImagesConfig], ImageGenerator]
GENERATORS: Registry[GeneratorFactory] = Registry("generator kind")


def parse_generator_name(name: str) -> tuple[str, str]:
    """Splits a pool entry 'kind:arg' at the first colon; raises ValueError when it has no kind or no arg."""
    kind, sep, arg = name.partition(":")
    if not sep or not kind or not arg:
        known = ", ".join(GENERATORS.names())
        raise ValueError(
            f"images.pool entry {name!r} must look like '<kind>:<arg>', e.g. 'procedural:flat' (kinds: {known})"
        )
    return kind, arg
