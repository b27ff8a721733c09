"""Fixtures for the caption tests (helpers live in helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthmphn.captions import create_caption_backend
from synthmphn.captions.llm import LLMBackend

from .helpers import install_complete, make_config, oracle_reply


@pytest.fixture
def build_backend(tmp_path: Path):
    """build_backend(name, **config) -> backend; LLM backends answer like the oracle unless replaced."""

    def build(name: str, negative_source: str | None = None, **overrides):
        backend = create_caption_backend(make_config(name, tmp_path, **overrides))
        if negative_source is not None:
            backend.negative_source = negative_source
        if isinstance(backend, LLMBackend):
            install_complete(backend, lambda r: oracle_reply(backend, r))
        return backend

    return build
