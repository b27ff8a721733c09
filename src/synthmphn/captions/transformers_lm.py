"""The `transformers` caption backend: any local causal LM, batched generation with left padding.

`captions.model` is a local folder saved with `save_pretrained` (or a `.gguf` file, loaded with
`gguf_file=`; transformers needs the `gguf` and `accelerate` (with `psutil`) packages for that:
`pip install -e '.[llm]'`).
Nothing is downloaded. Small instruct models (SmolLM2-135M) work with the shared prompts' line format and
few-shot examples (captions/prompts.py). Prompts use the tokenizer's chat template when it has one;
otherwise the messages are joined as plain text. Either way the prompt ends with the start of the answer
line (`Caption:`, or `Answer:` for a value request), which is put back before parsing, and the decoder is
constrained (captions/constrained.py): a value reply can only be one of its choices, a caption is one line
without `:{}[]` that cannot end before it states the subject and every value. Sampling uses `captions.temperature`
(0 = greedy, then retries repeat the same reply); `torch.manual_seed` is set per batch from the requests'
seeds, so a run is deterministic. Runs on CUDA when available, else CPU. torch and transformers are
imported when the model loads, so importing `synthmphn.captions` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from synthmphn.captions.base import CAPTION_BACKENDS
from synthmphn.captions.constrained import CaptionRule, ChoiceRule, RowRules, banned_caption_tokens
from synthmphn.captions.llm import LLMBackend, LLMRequest
from synthmphn.captions.prompts import ANSWER_PREFIX, LINE_PREFIX, plain_prompt
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


GGUF_PACKAGES = ("gguf", "accelerate", "psutil")  # what transformers needs to load a .gguf (the llm extra)


def require_gguf_support(path: Path) -> None:
    """Raises RuntimeError naming the missing packages and the install line (transformers' own error for a
    missing accelerate names no fix), before any loading starts."""
    import importlib.util

    missing = [name for name in GGUF_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise RuntimeError(
            f"captions.model: loading {path.name} (GGUF) needs {', '.join(missing)}: pip install -e '.[llm]'"
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
        self._banned: list[int] | None = None  # tokens no caption may hold (computed on first use)

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

    @property
    def chat(self) -> bool:
        """Whether the tokenizer has a chat template (its prompts then carry their own special tokens)."""
        self.load()
        return bool(getattr(self._tokenizer, "chat_template", None))

    def format_prompt(self, messages: list[dict[str, str]], prefill: str = LINE_PREFIX) -> tuple[str, str]:
        """(prompt text, start of the answer line the prompt ends with): chat template if any, else plain."""
        if self.chat:
            text = self._tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            return text + prefill, prefill
        return plain_prompt(messages, prefill), prefill

    def rule(self, request: LLMRequest) -> ChoiceRule | CaptionRule:
        """The decoder constraint of one request (see captions/constrained.py)."""
        tokenizer, eos = self._tokenizer, self._eos_ids()
        if request.task == "value" and request.choices:
            encoded = [tokenizer.encode(f" {c}", add_special_tokens=False) for c in request.choices]
            return ChoiceRule(encoded, eos)
        if self._banned is None:
            self._banned = banned_caption_tokens(lambda i: tokenizer.decode([i]), len(tokenizer))
        subject = self.bank.subject(request.spec.subject)
        required = [[subject.name, subject.plural], *([v] for v in request.spec.attributes.values())]
        return CaptionRule(
            required, self._banned, eos, lambda ids: tokenizer.decode(ids, skip_special_tokens=True)
        )

    def _eos_ids(self) -> list[int]:
        """Every id that ends a reply: the generation config's eos ids and the tokenizer's."""
        configured = self._model.generation_config.eos_token_id
        ids = configured if isinstance(configured, list) else [configured]
        return sorted({int(i) for i in [*ids, self._tokenizer.eos_token_id] if i is not None})

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
        from transformers import LogitsProcessorList

        prompts, prefixes = zip(
            *(
                self.format_prompt(r.messages, ANSWER_PREFIX if r.task == "value" else LINE_PREFIX)
                for r in batch
            ),
            strict=True,
        )
        encoded = self._tokenizer(
            list(prompts), return_tensors="pt", padding=True, add_special_tokens=not self.chat
        ).to(self._device)
        rules = RowRules([self.rule(r) for r in batch], encoded["input_ids"].shape[1])
        sample = self.config.temperature > 0
        torch.manual_seed(derive_seed(*(r.seed for r in batch)))
        with torch.no_grad():
            output = self._model.generate(
                **encoded,
                max_new_tokens=self.config.max_new_tokens,
                do_sample=sample,
                temperature=self.config.temperature if sample else None,
                pad_token_id=self._tokenizer.pad_token_id,
                logits_processor=LogitsProcessorList([rules]),
            )
        new_tokens = output[:, encoded["input_ids"].shape[1] :]
        texts = self._tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        return [prefix + text for prefix, text in zip(prefixes, texts, strict=True)]
