"""Decoder constraints of the transformers backend: what a reply may say, enforced on the logits.

A small model's failures are mostly of form, so each request kind gets a rule that removes, token by token,
the continuations that would be rejected anyway:

- `ChoiceRule` (value requests; the prompt ends with `Answer:`): the reply spells one of the request's
  choices, tokenized as they follow `Answer:`, then ends. A trie of their token ids allows only the next
  token of some choice, and end-of-sequence once one is complete, so every reply is a valid choice.
- `CaptionRule` (captions; the prompt ends with `Caption:`): tokens holding a line break or any of
  `: { } [ ] .` are never allowed (a caption is one line, not JSON, a list or more sentences), and
  end-of-sequence only once the text names the subject (singular or plural) and every stated value (a
  caption that stops before stating the spec is what the base-caption check rejects most).
  `max_new_tokens` still bounds the reply.

`RowRules` applies one rule per batch row as a transformers logits processor (any callable
`(input_ids, scores) -> scores` works there). torch is imported by the caller; this module needs none.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from synthmphn.captions.validate import normalized

BANNED_IN_CAPTIONS = ":{}[]\n."


class ChoiceRule:
    """Allows exactly the token sequences of `choices` (`[token ids]` each), then end-of-sequence."""

    def __init__(self, choices: Sequence[Sequence[int]], eos_ids: Sequence[int]) -> None:
        self.trie: dict[Any, Any] = {}
        for ids in choices:
            node = self.trie
            for token in ids:
                node = node.setdefault(token, {})
            node[None] = {}  # a choice ends here
        self.eos_ids = list(eos_ids)

    def allowed(self, generated: Sequence[int]) -> list[int] | None:
        """Token ids allowed next after `generated`, or None (no constraint: the reply has ended)."""
        node = self.trie
        for token in generated:
            if token in self.eos_ids or token not in node:
                return None
            node = node[token]
        return [t for t in node if t is not None] + (self.eos_ids if None in node else [])


class CaptionRule:
    """Bans `banned` token ids always and `eos_ids` until `decode(generated)` mentions every phrase group
    (a group is satisfied by any of its phrases, e.g. a subject's singular and plural)."""

    def __init__(
        self, required: Sequence[Sequence[str]], banned: Sequence[int], eos_ids: Sequence[int], decode: Any
    ) -> None:
        self.required = [[f" {normalized(p)} " for p in group] for group in required]
        self.banned, self.eos_ids, self.decode = list(banned), list(eos_ids), decode

    def banned_now(self, generated: Sequence[int]) -> list[int]:
        """The token ids not allowed after `generated`."""
        if any(token in self.eos_ids for token in generated):
            return []
        text = f" {normalized(self.decode(list(generated)))} "
        said = all(any(phrase in text for phrase in group) for group in self.required)
        return self.banned if said else self.banned + self.eos_ids


def banned_caption_tokens(decode_one: Any, vocab_size: int) -> list[int]:
    """Ids of the tokens whose text holds a character a caption may not contain (`BANNED_IN_CAPTIONS`)."""
    return [i for i in range(vocab_size) if any(c in decode_one(i) for c in BANNED_IN_CAPTIONS)]


class RowRules:
    """A logits processor applying `rules[row]` (a ChoiceRule, a CaptionRule or None) to each batch row;
    `prompt_length` is the padded prompt's length, so `input_ids[row, prompt_length:]` is the reply."""

    def __init__(self, rules: Sequence[ChoiceRule | CaptionRule | None], prompt_length: int) -> None:
        self.rules, self.prompt_length = list(rules), prompt_length

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        """Sets the logits of disallowed tokens to -inf, row by row."""
        for row, rule in enumerate(self.rules):
            generated = input_ids[row, self.prompt_length :].tolist()
            if isinstance(rule, ChoiceRule):
                allowed = rule.allowed(generated)
                if allowed is not None:
                    keep = scores[row, allowed].clone()
                    scores[row, :] = float("-inf")
                    scores[row, allowed] = keep
            elif isinstance(rule, CaptionRule):
                banned = rule.banned_now(generated)
                if banned:
                    scores[row, banned] = float("-inf")
        return scores
