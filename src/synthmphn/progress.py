"""Progress bars for long jobs: items/s and ETA via tqdm, quiet when not attached to a terminal in CI."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def progress(
    iterable: Iterable[T] | None = None,
    *,
    total: int | None = None,
    desc: str = "",
    unit: str = "it",
    initial: int = 0,
) -> tqdm:
    """A tqdm bar showing rate and ETA; disabled with SYNTHMPHN_QUIET=1 (tests) to keep logs small."""
    disable = os.environ.get("SYNTHMPHN_QUIET") == "1"
    return tqdm(
        iterable,
        total=total,
        desc=desc,
        unit=unit,
        initial=initial,
        disable=disable,
        dynamic_ncols=True,
        file=sys.stderr,
        mininterval=0.5,
        smoothing=0.1,
    )
