"""Image stage: generator protocol, procedural styles, diffusers backend, MSM pool strategies.

Importing this package registers the generator kinds `procedural` and `diffusers` in `GENERATORS`
(torch and diffusers themselves are imported only when a diffusers pipeline first generates).
"""

from synthmphn.images import diffusers_backend, procedural  # noqa: F401  (register generator kinds)
from synthmphn.images.base import GENERATORS, ImageGenerator
from synthmphn.images.pool import STRATEGIES, create_pool, plan_group, plan_images, render_plan
from synthmphn.images.procedural import HELDOUT_STYLES, STYLES, SUPPORTED_SUBJECTS, TRAINING_STYLES

__all__ = [
    "GENERATORS",
    "HELDOUT_STYLES",
    "STRATEGIES",
    "STYLES",
    "SUPPORTED_SUBJECTS",
    "TRAINING_STYLES",
    "ImageGenerator",
    "create_pool",
    "plan_group",
    "plan_images",
    "render_plan",
]
