"""Prompts and reply parsing of the LLM caption backends (captions/llm.py drives them).

Small local models (SmolLM2-135M-Instruct) follow a one-line answer format and worked examples far better
than a JSON schema, so a base-caption request is a system turn, two few-shot (facts -> `Caption: ...`)
exchanges and the real facts; `parse_caption` reads the first `Caption:` line, or a JSON object's
`caption` (what API models asked for JSON tend to send).
"""

from __future__ import annotations

import json
import re

from synthmphn.captions.concepts import ConceptBank
from synthmphn.captions.sampling import Edit
from synthmphn.captions.validate import normalized
from synthmphn.data.records import CaptionSpec

SYSTEM_PROMPT = (
    "You write short, literal captions for images of a synthetic dataset. "
    "Reply with one line, `Caption: ` followed by the caption, and nothing else."
)
LINE_PREFIX = "Caption:"
ANSWER_PREFIX = "Answer:"  # the line a value request's reply starts with
VALUE_SYSTEM_PROMPT = (
    "You pick the word that changes one detail of an image caption. "
    "Reply with one line, `Answer: ` followed by one of the listed choices, and nothing else."
)
VALUE_EXAMPLE = (
    "a red cat sitting on the left of the picture",
    "colour",
    "red",
    ("green", "blue", "black"),
    "blue",
)
FEW_SHOT = (  # (facts, draft, answer): the answer rephrases the draft and keeps every value word for word
    (
        "- subject: cat\n- colour (colour of the subject): red\n- position (where it is in the image): left",
        "a picture of a red cat, at the left",
        "a red cat sitting on the left of the picture",
    ),
    (
        "- subject: digit 7\n- size (size of the subject): small\n- texture (surface pattern of the subject): "
        "striped\n- background (what is behind it): brick wall",
        "a small striped digit 7 with a brick wall background",
        "a small digit 7 with a striped pattern in front of a brick wall",
    ),
)
ATTRIBUTE_HINTS = {
    "colour": "colour of the subject",
    "size": "size of the subject",
    "position": "where it is in the image",
    "count": "how many, as a word; plural noun if more than one",
    "texture": "surface pattern of the subject",
    "background": "what is behind it",
}


# ----------------------------------------------------------------------------- prompts


def base_messages(spec: CaptionSpec, bank: ConceptBank, draft: str | None = None) -> list[dict[str, str]]:
    """Chat messages asking for a caption that states exactly `spec`, with two worked examples.

    `draft` (the grammar's phrasing of the spec) is shown as a starting point to rephrase: small models
    keep every value when they start from a sentence that has them all, and drop some from a bare list.
    """
    facts = [f"- subject: {bank.subject(spec.subject).name}"]
    facts += [
        f"- {name} ({ATTRIBUTE_HINTS.get(name, name)}): {value}" for name, value in spec.attributes.items()
    ]
    messages = [{"role": "system", "content": SYSTEM_PROMPT}]
    for example_facts, example_draft, example_caption in FEW_SHOT:
        messages.append({"role": "user", "content": _base_request_text(example_facts, example_draft)})
        messages.append({"role": "assistant", "content": f"{LINE_PREFIX} {example_caption}"})
    messages.append({"role": "user", "content": _base_request_text("\n".join(facts), draft)})
    return messages


def _base_request_text(facts: str, draft: str | None) -> str:
    """The user turn of a base-caption request (the same wording for the examples and the real one)."""
    text = (
        "Write one caption of at most 30 words for an image that shows exactly the following. "
        "Use each value word for word and add no other objects or attributes.\n" + facts
    )
    return text if draft is None else f"{text}\nDraft to rephrase: {draft}"


def negative_messages(caption: str, edit: Edit) -> list[dict[str, str]]:
    """Chat messages asking to rewrite `caption` with the one change `edit` makes."""
    what = "subject" if edit.kind == "subject" else edit.kind.removeprefix("attribute:")
    user = (
        f'Caption: "{caption}"\n'
        f'Rewrite this caption changing only the {what} from "{edit.old}" to "{edit.value}". '
        "Keep every other word exactly as it is; change a neighbouring word only where grammar "
        f"forces it (a/an, plural).\nReply as: {LINE_PREFIX} <the rewritten caption>"
    )
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def value_messages(caption: str, edit: Edit, choices: list[str]) -> list[dict[str, str]]:
    """Chat messages asking which of `choices` should replace the edit's old value (one worked example):
    the model picks the new value only; the code puts it into the caption."""
    messages = [{"role": "system", "content": VALUE_SYSTEM_PROMPT}]
    example_caption, what, old, example_choices, answer = VALUE_EXAMPLE
    messages.append(
        {"role": "user", "content": _value_request_text(example_caption, what, old, example_choices)}
    )
    messages.append({"role": "assistant", "content": f"{ANSWER_PREFIX} {answer}"})
    what = "subject" if edit.kind == "subject" else edit.kind.removeprefix("attribute:")
    messages.append({"role": "user", "content": _value_request_text(caption, what, edit.old, choices)})
    return messages


def _value_request_text(caption: str, what: str, old: str, choices: list[str] | tuple[str, ...]) -> str:
    """The user turn of a value request (the same wording for the example and the real one)."""
    return (
        f'Caption: "{caption}"\nWhich {what} should replace "{old}" so that the caption describes a '
        f"different image? Choose one of: {', '.join(choices)}.\nReply as: {ANSWER_PREFIX} <your choice>"
    )


def plain_prompt(messages: list[dict[str, str]], prefill: str = LINE_PREFIX) -> str:
    """A prompt for models without a chat template: the messages' text, then the start of the answer line."""
    return "\n\n".join(m["content"] for m in messages) + "\n" + prefill


# ----------------------------------------------------------------------------- parsing


def parse_caption(text: str) -> str | None:
    """The caption in a reply: the first `Caption:` line's text, else the `caption` of the first JSON object
    that has one (whitespace collapsed, surrounding quotes dropped), else None."""
    for line in text.splitlines():
        head, _, rest = line.strip().partition(":")
        if rest and head.strip().strip("*`").lower() == LINE_PREFIX[:-1].lower():
            caption = " ".join(rest.split()).lstrip("*` ").strip("\"'`")
            if caption and not caption.startswith("{"):
                return caption
    return _json_caption(text)


def parse_choice(text: str, choices: list[str]) -> str | None:
    """The choice a value reply names: its `Answer:` line (or, without one, its first line) equal to one of
    `choices` up to case, punctuation and quotes, else None."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    answers = [line.split(":", 1)[1] for line in lines if line.lower().startswith(ANSWER_PREFIX[:-1].lower())]
    said = normalized((answers or lines or [""])[0])
    return next((choice for choice in choices if normalized(choice) == said), None)


def _json_caption(text: str) -> str | None:
    """The `caption` of the first JSON object in `text` that has one (whitespace collapsed), else None."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            obj, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict) and isinstance(obj.get("caption"), str):
            return " ".join(obj["caption"].split())
    return None
