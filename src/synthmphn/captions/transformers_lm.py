"""The `transformers` caption backend: any local causal LM, batched generation with left padding.

`captions.model` is a local folder saved with `save_pretrained` (or a `.gguf` file, loaded with
`gguf_file=`; transformers needs the `gguf` and `accelerate` packages for that: `pip install -e '.[llm]'`).
Nothing is downloaded. Small instruct models (SmolLM2-135M) work with the shared prompts' line format and
few-shot examples (captions/prompts.py). Prompts use the tokenizer's chat template
when it has one; otherwise the messages are joined as plain text ending with `{"caption": "` so a base
model continues the JSON (the prefix is put back before parsing). Sampling uses `captions.temperature`
(0 = greedy, then retries repeat the same reply); `torch.manual_seed` is set per batch from the requests'
seeds, so a run is deterministic. Runs on CUDA when available, else CPU. torch and transformers are
imported when the model loads, so importing `synthmphn.captions` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from synthmphn.captions.base import CAPTION_BACKENDS
from synthmphn.captions.llm import LLMBackend, LLMRequest
from synthmphn.captions.prompts import PLAIN_PREFILL, plain_prompt
from synthmphn.config import CaptionsConfig
from synthmphn.seeding import derive_seed


def resolve_model_path(model: str | None) -> Path:
    """The local model folder/file named by `captions.model`; a clear error when unset or missing."""
    if not model:
        raise ValueError(
            "captions.model must name a local model folder (or .gguf file) "
            "for the transformers caption backend"
        )
    path = Path(model).expanduser()
    if not path.exists():
        raise FileNotFoundError(
            f"captions.model: local model path not found: {path} "
            "(the transformers backend never downloads; save the model there first)"
        )
    return path


def require_gguf_support(path: Path) -> None:
    """Raises RuntimeError naming the missing packages and the install line (transformers' own error for a
    missing accelerate names no fix), before any loading starts."""
    import importlib.util

    missing = [name for name in ("gguf", "accelerate") if importlib.util.find_spec(name) is None]
    if missing:
        raise RuntimeError(
            f"captions.model: loading {path.name} (GGUF) needs {' and '.join(missing)}: pip install -e '.[llm]'"
        )


@CAPTION_BACKENDS.register("transformers")
class TransformersBackend(LLMBackend):
    """Captions written by a local causal LM (see the module doc); the model loads on first use."""

    def __init__(self, config: CaptionsConfig) -> None:
        super().__init__(config)
        self.model_path = resolve_model_path(config.model)
        self._model: Any = None
        self._tokenizer: Any = None
        self._device = "cpu"

    def load(self) -> None:
        """Loads tokenizer (left padding, pad = eos when unset) and model, once."""
        if self._model is not None:
            return
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        folder, kwargs = self.model_path, {}
        if self.model_path.is_file() and self.model_path.suffix == ".gguf":
            require_gguf_support(self.model_path)
            folder, kwargs = self.model_path.parent, {"gguf_file": self.model_path.name}
        tokenizer = AutoTokenizer.from_pretrained(folder, **kwargs)
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            if tokenizer.eos_token is None:
                raise ValueError(f"{self.model_path}: tokenizer has neither a pad nor an eos token")
            tokenizer.pad_token = tokenizer.eos_token
        self._device = "cuda" if torch.cuda.is_available() else "cpu"
        model = AutoModelForCausalLM.from_pretrained(folder, **kwargs)
        self._model = model.to(self._device).eval()
        self._tokenizer = tokenizer

    def format_prompt(self, messages: list[dict[str, str]]) -> tuple[str, str]:
        """(prompt text, prefix of the answer already in the prompt): chat template if any, else plain."""
        self.load()
        if getattr(self._tokenizer, "chat_template", None):
            text = self._tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            return text, ""
        return plain_prompt(messages), PLAIN_PREFILL

    def complete(self, requests: list[LLMRequest]) -> list[str]:
        """Generates one reply per request in batches of `captions.batch_size`."""
        replies: list[str] = []
        for start in range(0, len(requests), self.config.batch_size):
            replies.extend(self._generate_batch(requests[start : start + self.config.batch_size]))
        return replies

    def _generate_batch(self, batch: list[LLMRequest]) -> list[str]:
        """One left-padded `generate` call, seeded from the batch's request seeds."""
        import torch

        self.load()
        prompts, prefixes = zip(*(self.format_prompt(r.messages) for r in batch), strict=True)
        encoded = self._tokenizer(
            list(prompts), return_tensors="pt", padding=True, add_special_tokens=prefixes[0] != ""
        ).to(self._device)
        sample = self.config.temperature > 0
        torch.manual_seed(derive_seed(*(r.seed for r in batch)))
        with torch.no_grad():
            output = self._model.generate(
                **encoded,
                max_new_tokens=self.config.max_new_tokens,
                do_sample=sample,
                temperature=self.config.temperature if sample else None,
                pad_token_id=self._tokenizer.pad_token_id,
            )
        new_tokens = output[:, encoded["input_ids"].shape[1] :]
        texts = self._tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        return [prefix + text for prefix, text in zip(prefixes, texts, strict=True)]
