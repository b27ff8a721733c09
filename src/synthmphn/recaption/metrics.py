"""How good a captioner and a filter are: caption exact-match / subject accuracy, and the filter's
precision / recall at catching misaligned captions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from synthmphn.recaption.embedded import normalize_caption


def mentions(caption: str, phrase: str) -> bool:
    """Whether `caption` names `phrase` as whole words, singular or plural ('car' in 'four cars'), any case."""
    pattern = rf"\b{re.escape(phrase.lower())}(?:s|es)?\b"
    return re.search(pattern, caption.lower()) is not None


def caption_metrics(
    generated: Sequence[str], references: Sequence[str], subjects: Sequence[str]
) -> dict[str, Any]:
    """Exact match (after lowercasing and canonical spacing) and subject accuracy (the true subject is named).

    Exact match is bounded by the caption grammar: it picks the opener, word order and which attributes to
    state at random, and none of that is visible in the image, so subject accuracy is the number to read.
    """
    if not len(generated) == len(references) == len(subjects):
        raise ValueError("need one reference caption and one subject per generated caption")
    n = len(generated)
    exact = sum(
        normalize_caption(g) == normalize_caption(r) for g, r in zip(generated, references, strict=True)
    )
    subject = sum(mentions(g, s) for g, s in zip(generated, subjects, strict=True))
    return {
        "images": n,
        "exact_match": exact / n if n else None,
        "subject_accuracy": subject / n if n else None,
    }


def filter_quality(replaced: Sequence[bool], misaligned: Sequence[bool]) -> dict[str, Any]:
    """Precision (replaced captions that were misaligned) and recall (misaligned captions that were replaced).

    None where the denominator is 0 (nothing replaced / nothing misaligned).
    """
    if len(replaced) != len(misaligned):
        raise ValueError(f"need one misaligned flag per decision: {len(replaced)} and {len(misaligned)}")
    hits = sum(r and m for r, m in zip(replaced, misaligned, strict=True))
    n_replaced, n_misaligned = sum(replaced), sum(misaligned)
    return {
        "misaligned": n_misaligned,
        "replaced": n_replaced,
        "caught": hits,
        "precision": hits / n_replaced if n_replaced else None,
        "recall": hits / n_misaligned if n_misaligned else None,
    }
