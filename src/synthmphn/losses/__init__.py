"""Contrastive objectives, one file each, registered by name in `LOSSES` (SPEC §2).

Importing this package registers every loss: clip, siglip, mpclip, stablerep+, negclip, tripletclip,
tripletclip-sym (an alias of mpclip that requires hard negatives), hn-nce, hn-nce-thesis. Each loss takes a `ContrastiveBatch` and returns {"loss": total, <components>}. In
multi-process training, call `gather_batch` first so every rank computes the loss of the global batch.
"""

from __future__ import annotations

import inspect
from typing import Any

from synthmphn.losses import clip, hn_nce, mpclip, negclip, siglip, stablerep, tripletclip, tripletclip_sym  # noqa: F401
from synthmphn.losses.base import LOSSES, ContrastiveBatch, ContrastiveLoss
from synthmphn.losses.distributed import gather_batch


def create_loss(name: str, **options: Any) -> ContrastiveLoss:
    """Builds the loss registered as `name` with keyword `options` (e.g. from `train.loss_options`).

    Raises KeyError for an unknown name (listing the known ones) and ValueError for an unknown option.
    """
    cls = LOSSES.get(name)
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    accepted = [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(
            f"loss {name!r} has no option {', '.join(unknown)}; accepted: {', '.join(accepted) or '(none)'}"
        )
    return cls(**options)


__all__ = ["LOSSES", "ContrastiveBatch", "ContrastiveLoss", "create_loss", "gather_batch"]
