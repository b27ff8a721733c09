"""Rendering planned images with the pool's generators, and encoding them to deterministic bytes.

A job is one image: which generator draws it, from which prompt / spec, with which seed. `render_jobs` calls
each generator once for all of its jobs (diffusers batches them), `encode_image` writes PNG/JPEG with fixed
options and no metadata, so the same jobs give the same bytes on every machine and in every process.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from synthmphn.data.records import CaptionSpec
from synthmphn.images.base import ImageGenerator


@dataclass(frozen=True)
class ImageJob:
    """One image to render: the pool member drawing it, the caption text and spec it shows, its seed."""

    generator: str
    prompt: str
    spec: CaptionSpec | None
    seed: int


def render_jobs(jobs: Sequence[ImageJob], generators: dict[str, ImageGenerator]) -> list[Image.Image]:
    """Renders jobs batched per generator (one `generate` call each); returns the images in job order."""
    by_generator: dict[str, list[int]] = {}
    for position, job in enumerate(jobs):
        by_generator.setdefault(job.generator, []).append(position)
    images: list[Image.Image | None] = [None] * len(jobs)
    for name, positions in by_generator.items():
        if name not in generators:
            raise KeyError(f"a job uses generator {name!r} that is not in the pool: {sorted(generators)}")
        chosen = [jobs[p] for p in positions]
        pictures = generators[name].generate(
            [j.prompt for j in chosen], [j.spec for j in chosen], [j.seed for j in chosen]
        )
        if len(pictures) != len(chosen):
            raise ValueError(f"generator {name!r} returned {len(pictures)} images for {len(chosen)} prompts")
        for position, picture in zip(positions, pictures, strict=True):
            images[position] = picture
    return [image for image in images if image is not None]


def encode_image(image: Image.Image, fmt: str, size: int, generator: str) -> bytes:
    """Encodes an RGB image as PNG/JPEG with fixed options and no metadata (deterministic bytes)."""
    if image.size != (size, size):
        raise ValueError(f"generator {generator!r} returned a {image.size} image; expected {size}x{size}")
    rgb = image.convert("RGB")
    rgb.info = {}
    buffer = io.BytesIO()
    if fmt == "png":
        rgb.save(buffer, format="PNG", compress_level=6)
    else:
        rgb.save(buffer, format="JPEG", quality=95, subsampling=0, optimize=False, progressive=False)
    return buffer.getvalue()
