"""The embedded captioner: text handling, learning a toy world, determinism, save/load."""

from __future__ import annotations

from pathlib import Path

import pytest
from recaption_toyworld import sample

from synthmphn.config import RecaptionConfig
from synthmphn.recaption import CAPTIONERS, create_captioner
from synthmphn.recaption.embedded import (
    EmbeddedCaptioner,
    Vocab,
    detokenize,
    normalize_caption,
    tokenize,
)

TOY_CONFIG = RecaptionConfig(epochs=12, batch_size=16, lr=2e-3, threads=1)


@pytest.fixture(scope="module")
def fitted() -> EmbeddedCaptioner:
    """A captioner fitted on 240 toy drawings (~6 s on two cores)."""
    images, captions, _ = sample(240, seed=0)
    captioner = EmbeddedCaptioner(TOY_CONFIG)
    captioner.fit(images, captions, seed=0)
    return captioner


def test_tokenize_round_trips_words_and_punctuation() -> None:
    text = "Two small red circles, at the top-left. On a blue sky background!"
    tokens = tokenize(text)
    assert tokens[:5] == ["two", "small", "red", "circles", ","]
    assert "top-left" in tokens
    assert detokenize(tokens) == "two small red circles, at the top-left. on a blue sky background!"
    assert normalize_caption("A  digit 3 ,  blue") == "a digit 3, blue"


def test_vocab_ids_do_not_depend_on_caption_order() -> None:
    a = Vocab.build(["a red circle", "a blue square"])
    b = Vocab.build(["a blue square", "a red circle"])
    assert a.tokens == b.tokens
    ids = a.encode("a green circle")
    assert ids[0] == 1 and ids[-1] == 2 and 3 in ids  # <bos> ... <unk> ... <eos>
    assert a.decode(ids[1:]) == "a circle"  # <unk> is dropped, decoding stops at <eos>


def test_learns_the_toy_world(fitted: EmbeddedCaptioner) -> None:
    images, captions, subjects = sample(100, seed=1)  # unseen drawings
    out = fitted.caption(images)
    exact = sum(o == normalize_caption(c) for o, c in zip(out, captions, strict=True)) / len(out)
    subject = sum(s in o.split() for o, s in zip(out, subjects, strict=True)) / len(out)
    assert exact >= 0.85, (exact, out[:5])
    assert subject >= 0.9
    assert fitted.losses[-1] < fitted.losses[0]


def test_captions_do_not_depend_on_batching(fitted: EmbeddedCaptioner) -> None:
    images, _, _ = sample(10, seed=2)
    small = EmbeddedCaptioner(TOY_CONFIG.model_copy(update={"batch_size": 3}))
    small.vocab, small.net = fitted.vocab, fitted.net
    assert small.caption(images) == fitted.caption(images)
    assert fitted.caption(images[:1]) == fitted.caption(images)[:1]


def test_save_load_gives_the_same_captions(fitted: EmbeddedCaptioner, tmp_path: Path) -> None:
    fitted.save(tmp_path)
    loaded = EmbeddedCaptioner(TOY_CONFIG)
    loaded.load(tmp_path)
    images, _, _ = sample(8, seed=3)
    assert loaded.caption(images) == fitted.caption(images)
    assert loaded.losses == fitted.losses
    other_size = EmbeddedCaptioner(TOY_CONFIG.model_copy(update={"image_size": 64}))
    with pytest.raises(ValueError, match="image_size=32"):
        other_size.load(tmp_path)


def test_fit_is_deterministic() -> None:
    images, captions, _ = sample(24, seed=4)
    config = RecaptionConfig(epochs=2, batch_size=8, threads=1)
    first, second = EmbeddedCaptioner(config), EmbeddedCaptioner(config)
    first.fit(images, captions, seed=7)
    second.fit(images, captions, seed=7)
    assert first.losses == second.losses
    assert first.caption(images[:6]) == second.caption(images[:6])


def test_errors_name_the_problem() -> None:
    captioner = EmbeddedCaptioner(RecaptionConfig())
    images, captions, _ = sample(2, seed=5)
    with pytest.raises(RuntimeError, match="not fitted"):
        captioner.caption(images)
    with pytest.raises(ValueError, match="as many captions as images"):
        captioner.fit(images, captions[:1], seed=0)
    with pytest.raises(KeyError, match="unknown captioner .nope.; known: blip, embedded, "):
        create_captioner(RecaptionConfig(captioner="nope"))


def test_registry_holds_the_built_in_captioners() -> None:
    create_captioner(RecaptionConfig())  # imports the built-ins
    assert {"blip", "embedded", "transformers"} <= set(CAPTIONERS.names())
    assert CAPTIONERS.get("embedded").needs_fit and not CAPTIONERS.get("transformers").needs_fit
