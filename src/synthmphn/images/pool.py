"""Planning a caption's images over the generator pool: the MSM strategies, all at an equal image budget.

Every caption gets `per_caption` images; strategies differ only in which generator draws each one:
- `single`: the pool's only member draws all of them.
- `msm-random`: each image from a pool member drawn at random (seeded by run seed and group id).
- `msm-all`: every member draws per_caption / m images (member i % m draws image i), so each
  caption has images from all m generators.

Hard negatives are rendered the same way as their base: `plan_group` plans the base once and gives
every negative the same (generator, seed) list, so a negative image differs from its base image only
in the edited slot (a controlled hard negative). `plan_images(..., role="neg0")` gives independent
seeds instead, for a caller that wants uncontrolled negatives.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from synthmphn.seeding import derive_seed

STRATEGIES = ("single", "msm-random", "msm-all")

ImagePlan = list[tuple[str, int]]
"""(generator name, image seed) for each image of one caption, in image order."""


def plan_images(
    group_id: str, pool: Sequence[str], strategy: str, per_caption: int, seed: int, role: str = "base"
) -> ImagePlan:
    """Which generator draws each of a caption's `per_caption` images, and with which seed.

    Seeds derive from (run seed, group id, role, image index), so every image can be regenerated alone.
    """
    if not pool:
        raise ValueError("images.pool must name at least one generator")
    if per_caption < 1:
        raise ValueError(f"images.per_caption must be >= 1, got {per_caption}")
    seeds = [derive_seed(seed, group_id, role, "image", i) for i in range(per_caption)]
    if strategy == "single":
        if len(pool) != 1:
            raise ValueError(
                f"strategy 'single' needs exactly one generator in images.pool, got {len(pool)}: {list(pool)}"
            )
        return [(pool[0], s) for s in seeds]
    if strategy == "msm-random":
        picker = random.Random(derive_seed(seed, group_id, role, "pick"))
        return [(pool[picker.randrange(len(pool))], s) for s in seeds]
    if strategy == "msm-all":
        if per_caption % len(pool) != 0:
            raise ValueError(
                f"strategy 'msm-all' needs images.per_caption to be a multiple of the pool size "
                f"({len(pool)} generators); got images.per_caption={per_caption}"
            )
        return [(pool[i % len(pool)], s) for i, s in enumerate(seeds)]
    raise ValueError(f"unknown images.strategy {strategy!r}; known: {', '.join(STRATEGIES)}")


def plan_group(
    group_id: str, pool: Sequence[str], strategy: str, per_caption: int, seed: int, n_negatives: int
) -> dict[str, ImagePlan]:
    """Plans for a whole group: 'base' and 'neg0'.. 'neg{n-1}', the negatives reusing the base plan.

    Reusing generators *and* seeds makes each negative image a controlled edit of its base image.
    """
    base = plan_images(group_id, pool, strategy, per_caption, seed, role="base")
    return {"base": base, **{f"neg{j}": list(base) for j in range(n_negatives)}}
