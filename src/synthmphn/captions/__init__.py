"""Caption stage: concept bank, caption backends (grammar, transformers, openai), hard-negative checks.

Importing this package registers every backend in `CAPTION_BACKENDS`; the LLM backends import their heavy
dependencies (torch, transformers) only when constructed.
"""

from synthmphn.captions import grammar, openai_api, transformers_lm  # noqa: F401  (register the backends)
from synthmphn.captions.base import CAPTION_BACKENDS, CaptionBackend, CaptionResult
from synthmphn.captions.concepts import ConceptBank, Subject, bank_for, class_table, load_bank
from synthmphn.captions.validate import validate_negative
from synthmphn.config import CaptionsConfig


def create_caption_backend(config: CaptionsConfig) -> CaptionBackend:
    """Builds the backend named by `config.backend` (KeyError listing the registered ones otherwise)."""
    return CAPTION_BACKENDS.get(config.backend)(config)


__all__ = [
    "CAPTION_BACKENDS",
    "CaptionBackend",
    "CaptionResult",
    "ConceptBank",
    "Subject",
    "bank_for",
    "class_table",
    "create_caption_backend",
    "load_bank",
    "validate_negative",
]
