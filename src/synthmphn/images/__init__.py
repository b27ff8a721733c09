"""Image stage: generator protocol, procedural styles, diffusers backend, MSM planning, rendering.

    base.py               ImageGenerator protocol, the GENERATORS registry, `parse_generator_name`
    procedural/           `procedural:<style>`: the embedded styles (STYLES registry, `create_style`)
    diffusers_backend.py  `diffusers:<path>`: a local text-to-image pipeline (torch imported on first use)
    pool.py               MSM strategies: which generator draws each image of a caption, with which seed
    rendering.py          `render_jobs` (batched per generator) and `encode_image` (deterministic bytes)

Importing this package registers the generator kinds `procedural` and `diffusers`; `create_generator` /
`create_pool` here are the one way to build generators by name.
"""

from collections.abc import Sequence

from synthmphn.config import ImagesConfig
from synthmphn.images import diffusers_backend, procedural  # noqa: F401  (register generator kinds)
from synthmphn.images.base import GENERATORS, ImageGenerator, parse_generator_name
from synthmphn.images.pool import STRATEGIES, plan_group, plan_images
from synthmphn.images.procedural import HELDOUT_STYLES, STYLES, SUPPORTED_SUBJECTS, TRAINING_STYLES
from synthmphn.images.rendering import ImageJob, encode_image, render_jobs


def create_generator(name: str, size: int, config: ImagesConfig) -> ImageGenerator:
    """Builds the pool entry `name` ('<kind>:<arg>'); unknown kinds raise KeyError listing the known ones."""
    kind, arg = parse_generator_name(name)
    return GENERATORS.get(kind)(arg, size, config)


def create_pool(pool_names: Sequence[str], size: int, config: ImagesConfig) -> dict[str, ImageGenerator]:
    """Builds every generator named in the pool, after checking all names up front.

    Unknown kinds raise KeyError listing the known kinds; unknown procedural styles raise KeyError
    listing the styles; a missing diffusers path raises FileNotFoundError naming it.
    """
    for name in pool_names:  # fails before any (slow) construction
        GENERATORS.get(parse_generator_name(name)[0])
    return {name: create_generator(name, size, config) for name in pool_names}


__all__ = [
    "GENERATORS",
    "HELDOUT_STYLES",
    "STRATEGIES",
    "STYLES",
    "SUPPORTED_SUBJECTS",
    "TRAINING_STYLES",
    "ImageGenerator",
    "ImageJob",
    "create_generator",
    "create_pool",
    "encode_image",
    "parse_generator_name",
    "plan_group",
    "plan_images",
    "render_jobs",
]
