"""Web-like caption noise for the recaptioning study (SPEC §5, image analogue of the theory's S_w).

With probability `captions.misalign_p` a training caption names the wrong subject: its *confuser*, the next
subject of the same category in bank order (digit 3 -> digit 4, circle -> the next shape, ...). The images
stay true to the original spec, so the text carries a systematic spurious correlation, like web alt-text.
The first `captions.clean_groups` groups are never touched: they are the small clean set (the paper's S_h)
a captioner learns from. Negatives are left as written (they describe the true spec).
"""

from __future__ import annotations

import random
import re

from synthmphn.captions.concepts import ConceptBank, Subject, bank_for
from synthmphn.config import CaptionsConfig
from synthmphn.data.records import CaptionDraft
from synthmphn.seeding import derive_seed


def confusers(bank: ConceptBank) -> dict[str, Subject]:
    """subject name -> the subject that replaces it in a misaligned caption (next in its category, cyclic)."""
    by_category: dict[str, list[Subject]] = {}
    for subject in bank.subjects:
        by_category.setdefault(subject.category, []).append(subject)
    mapping = {}
    for members in by_category.values():
        for i, subject in enumerate(members):
            if len(members) > 1:
                mapping[subject.name] = members[(i + 1) % len(members)]
    return mapping


def swap_subject(text: str, true: Subject, wrong: Subject) -> str | None:
    """`text` with the true subject's words (plural first, then singular) replaced by the wrong subject's.

    Returns None when the caption does not mention the subject verbatim (then it cannot be misaligned).
    """
    for old, new in ((true.plural, wrong.plural), (true.display, wrong.display)):
        pattern = re.compile(rf"\b{re.escape(old)}\b", flags=re.IGNORECASE)
        if pattern.search(text):
            return pattern.sub(new, text, count=1)
    return None


def apply_misalignment(drafts: list[CaptionDraft], config: CaptionsConfig, seed: int) -> list[CaptionDraft]:
    """Drafts with a seeded share `misalign_p` of captions (after the clean prefix) naming the confuser."""
    if config.misalign_p <= 0:
        return drafts
    bank = bank_for(config)
    mapping = confusers(bank)
    out = []
    for index, draft in enumerate(drafts):
        rng = random.Random(derive_seed(seed, draft.id, "misalign"))
        hit = rng.random() < config.misalign_p
        if index < config.clean_groups or not hit or draft.spec is None or draft.spec.subject not in mapping:
            out.append(draft)
            continue
        text = swap_subject(draft.caption, bank.subject(draft.spec.subject), mapping[draft.spec.subject])
        out.append(draft if text is None else draft.model_copy(update={"caption": text, "misaligned": True}))
    return out


def true_caption(text: str, subject: str, bank: ConceptBank) -> str | None:
    """A misaligned caption with the subject it names put back to the true `subject` (the inverse of
    `apply_misalignment`): the confuser's words first, else any other subject's, longest name first (so
    't-shirt' is tried before 'shirt'). None when the caption names no other subject of the bank.

    Why: the recaption summary scores this caption through the filter, which measures the filter alone, as
    if the captioner were perfect (`recaption.shards`)."""
    true = bank.subject(subject)
    mapping = confusers(bank)
    others = [s for s in bank.subjects if s.name != subject]
    ordered = ([mapping[subject]] if subject in mapping else []) + sorted(
        others, key=lambda s: -len(s.display)
    )
    for wrong in ordered:
        fixed = swap_subject(text, wrong, true)
        if fixed is not None:
            return fixed
    return None
