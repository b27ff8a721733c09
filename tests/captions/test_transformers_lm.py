"""The transformers backend on a tiny randomly initialised GPT-2 with an offline-built tokenizer.

Random weights write garbage, so these tests check that the real generate path runs, that every reply is
accounted for (accepted or counted as a rejection), and that a run is deterministic; the exact parse /
validate / retry behaviour is tested with scripted replies in test_llm.py.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from synthmphn.captions.llm import GROUP_DROPPED, GROUP_REDRAWN, NEGATIVE_DROPPED
from synthmphn.captions.transformers_lm import TransformersBackend
from synthmphn.config import CaptionsConfig

CHAT_TEMPLATE = (
    "{% for m in messages %}<{{ m['role'] }}> {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<assistant> {% endif %}"
)
SENTENCES = [
    '{"caption": "a small red circle at the top left"}',
    '{"caption": "two blue squares on a white background"}',
    "Write one caption for an image that shows exactly the following . Reply as JSON :",
    "subject colour size position count texture background digit 3 house tree star",
]


def build_tiny_model(folder: Path, chat_template: str | None) -> Path:
    """Saves a WordLevel tokenizer and a 1-layer GPT-2 (random weights) to `folder`, fully offline."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[BOS]", "[EOS]"]
    tokenizer = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.train_from_iterator(SENTENCES, trainers.WordLevelTrainer(special_tokens=specials))
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]", bos_token="[BOS]", eos_token="[EOS]"
    )
    if chat_template:
        fast.chat_template = chat_template
    fast.save_pretrained(folder)
    config = GPT2Config(
        vocab_size=len(fast),
        n_positions=512,
        n_embd=32,
        n_layer=1,
        n_head=2,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
    )
    GPT2LMHeadModel(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """A 32-wide model is ~15x faster on one thread than on two busy ones (CI has 2 shared cores)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module", params=["plain", "chat"])
def tiny_model(request, tmp_path_factory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp(f"tiny-{request.param}")
    return build_tiny_model(folder, CHAT_TEMPLATE if request.param == "chat" else None), request.param


def test_missing_model_path_names_it(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(FileNotFoundError, match="no-such-model"):
        TransformersBackend(CaptionsConfig(backend="transformers", model=str(missing)))
    with pytest.raises(ValueError, match="captions.model"):
        TransformersBackend(CaptionsConfig(backend="transformers"))


def test_prompt_uses_chat_template_when_present(tiny_model):
    folder, kind = tiny_model
    backend = TransformersBackend(CaptionsConfig(backend="transformers", model=str(folder)))
    text, prefix = backend.format_prompt([{"role": "user", "content": "hi"}])
    if kind == "chat":
        assert text == "<user> hi\n<assistant> Caption:" and prefix == "Caption:"
    else:
        assert text == "hi\nCaption:" and prefix == "Caption:"
    assert backend.format_prompt([{"role": "user", "content": "hi"}], "Answer:")[0].endswith("Answer:")


def test_real_generation_runs_counts_and_is_deterministic(tiny_model):
    folder, _ = tiny_model
    config = CaptionsConfig(
        backend="transformers",
        model=str(folder),
        batch_size=4,
        max_new_tokens=6,
        max_retries=1,
        negatives_per_caption=1,
        temperature=1.0,
    )
    results, counts = [], []
    for _ in range(2):
        backend = TransformersBackend(config)
        calls = Counter()
        original = backend.complete

        def counting(requests, original=original, calls=calls):
            replies = original(requests)
            calls["requests"] += len(requests)
            calls["replies"] += sum(isinstance(r, str) for r in replies)
            return replies

        backend.complete = counting
        try:
            results.append(backend.generate(3, seed=11))
        except ValueError as err:  # garbage for every group: the build must fail naming the counts (#14)
            results.append(str(err))
        counts.append(calls)
    first, second = results
    assert counts[0] == counts[1] and counts[0]["requests"] == counts[0]["replies"] > 0
    if isinstance(first, str):
        assert first == second and "gave no valid caption for any of 3 groups (rejections: " in first
        return
    assert first.drafts == second.drafts and first.rejections == second.rejections
    events = {GROUP_REDRAWN, GROUP_DROPPED, NEGATIVE_DROPPED}
    failed = sum(n for reason, n in first.rejections.items() if reason not in events)
    accepted = len(first.drafts) + sum(len(d.negatives) for d in first.drafts)
    assert failed + accepted == counts[0]["requests"]
    assert len(first.drafts) + first.rejections[GROUP_DROPPED] == 3


def test_gguf_without_accelerate_names_the_install_line(tmp_path, monkeypatch):
    import importlib.util

    from synthmphn.captions.transformers_lm import require_gguf_support

    real = importlib.util.find_spec
    present = real("json")  # any spec: gguf and psutil count as installed whatever this machine has
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name: None if name == "accelerate" else present if name in ("gguf", "psutil") else real(name),
    )
    gguf = tmp_path / "m.gguf"
    with pytest.raises(RuntimeError, match=r"m\.gguf \(GGUF\) needs accelerate: pip install -e '\.\[llm\]'"):
        require_gguf_support(gguf)
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name: None if name in ("gguf", "accelerate", "psutil") else real(name),
    )
    with pytest.raises(RuntimeError, match=r"needs gguf, accelerate, psutil: pip install -e '\.\[llm\]'"):
        require_gguf_support(gguf)


def test_the_llm_and_dev_extras_install_what_gguf_loading_needs():
    import re
    import tomllib
    from pathlib import Path

    from synthmphn.captions.transformers_lm import GGUF_PACKAGES

    pyproject = Path(__file__).parents[2] / "pyproject.toml"
    extras = tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]
    for extra in ("llm", "dev"):  # dev: `make test` / `make test-all` install it (the slow SmolLM2 test)
        names = {re.split(r"[<>=\[ ]", requirement)[0].lower() for requirement in extras[extra]}
        assert set(GGUF_PACKAGES) <= names, extra
