"""Recaptioning (SPEC §5): a captioner fit on a small clean subset rewrites train captions, a CLIP filter decides.

    __init__.py      `create_captioner(config)`: the one factory; importing the package registers the built-ins
    base.py          Captioner protocol (fit / caption / save / load) and the CAPTIONERS registry
    embedded.py      `embedded`: small conv encoder + word-level GRU decoder, trained from scratch on S_h
    hf.py            `transformers`: any local image-to-text model (AutoModelForImageTextToText), greedy generate
    blip.py          `blip`: the image tower of the raw-data CLIP (frozen / fine-tuned) + a GRU decoder or
                     subject/attribute heads rendered by the caption grammar, fit on S_h
    filter.py        CapFilt rule: replace when cos(f(x), g(new)) >= alpha * cos(f(x), g(old))
    metrics.py       captioner exact match / subject accuracy; filter precision / recall on misaligned captions
    pipeline.py      `run_recaption(src, dst, cfg)`: the job (checks, OUT's layout), shards in, shards out
    clean_subset.py  S_h and the captioner fitted on it (or loaded from a previous run)
    shards.py        one train shard recaptioned (consensus caption, filter, decisions) or a shard copied
    summary.py       recaption_summary.json: replacements, scores, captioner and filter quality

Choices worth knowing:
- S_h is the first `recaption.clean_groups` train groups by id (`clean_subset.select_clean_groups`); S_h keeps
  its captions, only the other train groups are candidates.
- A group's new caption is the majority vote over the captions of its base images (ties: earliest image);
  it is scored against the renormalised mean of its images' CLIP features.
- Only `Group.caption` (json + txt members) changes; images, negatives and heldout shards are copied as is.
- torch runs on `recaption.threads` = 1 thread by default: the captioner's ops are tiny, and on a shared
  2-core machine two threads cost ~8x the CPU time for the same fit.
"""

from synthmphn.config import RecaptionConfig
from synthmphn.recaption import blip, embedded, hf  # noqa: F401  (register "blip", "embedded", "transformers")
from synthmphn.recaption.base import CAPTIONERS, Captioner


def create_captioner(config: RecaptionConfig) -> Captioner:
    """Builds the captioner named by `config.captioner` (KeyError listing the registered ones otherwise)."""
    return CAPTIONERS.get(config.captioner)(config)


__all__ = ["CAPTIONERS", "Captioner", "create_captioner"]
