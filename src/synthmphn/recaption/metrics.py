"""How good a captioner and a filter are: caption exact-match / subject / attribute accuracy, the filter's
confusion matrix against the misaligned captions, and mean ± sd of image-text scores.
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
    generated: Sequence[str],
    references: Sequence[str],
    subjects: Sequence[str],
    attributes: Sequence[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """Exact match (after lowercasing and canonical spacing), subject accuracy (the true subject is named) and
    attribute accuracy (share of the reference's stated attribute values the caption names, over all images).

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
    named = [
        mentions(g, value)
        for g, stated in zip(generated, attributes or [{}] * n, strict=True)
        for value in stated.values()
    ]
    return {
        "images": n,
        "exact_match": exact / n if n else None,
        "subject_accuracy": subject / n if n else None,
        "attribute_accuracy": sum(named) / len(named) if named else None,
        "attributes_stated": len(named),
    }


def filter_quality(replaced: Sequence[bool], misaligned: Sequence[bool]) -> dict[str, Any]:
    """The filter's confusion matrix against the known misaligned captions, and its rates.

    caught = misaligned and replaced, missed = misaligned and kept, wrongly_replaced = aligned and replaced,
    kept_aligned = aligned and kept; precision = caught / replaced, recall = caught / misaligned (the share
    caught), wrongly_replaced_share = wrongly_replaced / aligned. None where a denominator is 0.
    """
    if len(replaced) != len(misaligned):
        raise ValueError(f"need one misaligned flag per decision: {len(replaced)} and {len(misaligned)}")
    pairs = list(zip(replaced, misaligned, strict=True))
    caught = sum(r and m for r, m in pairs)
    wrongly = sum(r and not m for r, m in pairs)
    n_replaced, n_misaligned = sum(replaced), sum(misaligned)
    n_aligned = len(pairs) - n_misaligned
    return {
        "misaligned": n_misaligned,
        "aligned": n_aligned,
        "replaced": n_replaced,
        "caught": caught,
        "missed": n_misaligned - caught,
        "wrongly_replaced": wrongly,
        "kept_aligned": n_aligned - wrongly,
        "precision": caught / n_replaced if n_replaced else None,
        "recall": caught / n_misaligned if n_misaligned else None,
        "wrongly_replaced_share": wrongly / n_aligned if n_aligned else None,
    }


def mean_sd(values: Sequence[float]) -> dict[str, Any]:
    """{"n", "mean", "sd"} of scores (sample sd, n - 1; None below two values)."""
    n = len(values)
    mean = sum(values) / n if n else None
    sd = (sum((v - mean) ** 2 for v in values) / (n - 1)) ** 0.5 if n > 1 and mean is not None else None
    return {"n": n, "mean": mean, "sd": sd}
