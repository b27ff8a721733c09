"""What is registered, family by family: open_clip's `list_models()` for every pluggable part.

`synthmphn list [FAMILY]` prints it. A family is a `Registry` (its `describe()` gives each part's first
docstring line) or, for models, our tiny open_clip configs described from their JSON. Families are listed
in pipeline order; a new registry is one line in `FAMILIES`.
"""

from __future__ import annotations

from collections.abc import Callable

import synthmphn.analyse  # noqa: F401  (registers the embedded reference model)
from synthmphn.captions import CAPTION_BACKENDS
from synthmphn.data.schedules import HN_SCHEDULES
from synthmphn.eval import EVAL_TASKS
from synthmphn.eval.reference import REFERENCES
from synthmphn.images import GENERATORS, STYLES
from synthmphn.losses import LOSSES
from synthmphn.models import describe_models
from synthmphn.recaption import CAPTIONERS

FAMILIES: dict[str, Callable[[], dict[str, str]]] = {
    "caption-backends": CAPTION_BACKENDS.describe,
    "generators": GENERATORS.describe,
    "styles": STYLES.describe,
    "schedules": HN_SCHEDULES.describe,
    "models": describe_models,
    "losses": LOSSES.describe,
    "eval-tasks": EVAL_TASKS.describe,
    "reference-models": REFERENCES.describe,
    "captioners": CAPTIONERS.describe,
}
"""family name (as `synthmphn list` takes it) -> name -> one line on that part."""


def describe(family: str | None = None) -> dict[str, dict[str, str]]:
    """{family: {name: one line}} for `family`, or for every family when None.

    Raises ValueError naming the known families for an unknown one.
    """
    if family is None:
        return {name: parts() for name, parts in FAMILIES.items()}
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; known: {', '.join(FAMILIES)}")
    return {family: FAMILIES[family]()}


def format_catalog(catalog: dict[str, dict[str, str]]) -> str:
    """One block per family: its name, then `  name  line` rows with the names padded to one column."""
    blocks = []
    for family, parts in catalog.items():
        width = max((len(name) for name in parts), default=0)
        rows = [f"  {name.ljust(width)}  {line}".rstrip() for name, line in parts.items()]
        blocks.append("\n".join([f"{family}:", *(rows or ["  (none registered)"])]))
    return "\n\n".join(blocks)
