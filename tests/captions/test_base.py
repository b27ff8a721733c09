"""The backend contract, checked for every registered caption backend (LLMs answer like the oracle)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from synthmphn.captions import CAPTION_BACKENDS, CaptionResult

from .helpers import assert_valid_draft

# every backend the package ships (test modules such as tests/build register fakes of their own)
SHIPPED = [n for n in CAPTION_BACKENDS.names() if CAPTION_BACKENDS.get(n).__module__.startswith("synthmphn.")]


def test_all_backends_register_on_import_without_torch():
    code = (
        "import sys, synthmphn.captions as c; print(c.CAPTION_BACKENDS.names()); "
        "print('torch' in sys.modules, 'transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:2] == ["['grammar', 'openai', 'transformers']", "False False"]


@pytest.mark.parametrize("name", SHIPPED)
def test_backend_contract(name, build_backend):
    backend = build_backend(name, negatives_per_caption=2)
    result = backend.generate(12, seed=7, prefix="t")
    assert isinstance(result, CaptionResult)
    assert [d.id for d in result.drafts] == [f"t{i:07d}" for i in range(12)]
    for draft in result.drafts:
        assert len(draft.negatives) == 2
        assert_valid_draft(draft, backend.bank)
    again = build_backend(name, negatives_per_caption=2).generate(12, seed=7, prefix="t")
    assert again.drafts == result.drafts


@pytest.mark.parametrize("name", SHIPPED)
def test_backend_honours_filters(name, build_backend):
    backend = build_backend(name, categories=["digit"], negative_kinds=["subject", "colour"])
    for draft in backend.generate(10, seed=0).drafts:
        assert draft.spec.category == "digit" and draft.spec.subject in draft.caption
        assert all(n.spec.category == "digit" for n in draft.negatives)


@pytest.mark.parametrize("name", SHIPPED)
def test_backend_empty_concepts_file_fails(name, build_backend, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(ValueError, match="subjects"):
        build_backend(name, concepts_file=empty)
