"""The fixed reference model: trained once on ground-truth renders, cached by content key, run-independent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import synthmphn.analyse.embedded as reference_module
from synthmphn.analyse.embedded import EmbeddedReference, RenderSet, embedded_reference, reference_key
from synthmphn.eval.classifier import TrainSettings
from synthmphn.eval.generators import generator_rows
from synthmphn.eval.reference import EMBEDDED, REFERENCES, clip_reference, load_reference
from synthmphn.images.procedural import create_procedural_generator

SHAPES = ("circle", "square", "triangle", "star", "cross", "heart")
TINY = RenderSet(subjects=SHAPES, styles=("flat",), per_style=100, size=32, attribute_rate=0.0)
FAST = TrainSettings(epochs=10, batch_size=32, width=16, shift=1, seed=3)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> EmbeddedReference:
    return embedded_reference(TINY, FAST, cache=tmp_path_factory.mktemp("cache"))


def test_cached_by_content_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    small = RenderSet(subjects=SHAPES[:2], styles=("flat",), per_style=4)
    settings = TrainSettings(epochs=1, width=8)
    first = embedded_reference(small, settings, cache=tmp_path)
    files = list((tmp_path / "reference").glob("*.pt"))
    assert [f.stem for f in files] == [reference_key(small, settings)]

    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cached reference must not be retrained")

    monkeypatch.setattr(reference_module, "train_classifier", no_training)
    second = embedded_reference(small, settings, cache=tmp_path)
    x = reference_module.render_reference_set(small)[0][:3]
    np.testing.assert_allclose(first.judge(x, list(SHAPES[:2]))[0], second.judge(x, list(SHAPES[:2]))[0])
    # any change to the render set or the training gives another key (another cached model)
    assert reference_key(small, settings) != reference_key(
        RenderSet(subjects=SHAPES[:2], per_style=5), settings
    )
    assert reference_key(small, settings) != reference_key(small, TrainSettings(epochs=2, width=8))


def _judged(reference: EmbeddedReference, generator: str, n: int = 90) -> dict:
    rng = np.random.default_rng(7)
    specs = [reference_module._spec(SHAPES[i % len(SHAPES)], rng, 0.0) for i in range(n)]
    seeds = [int(s) for s in rng.integers(0, 2**62, size=n)]
    images = create_procedural_generator(generator.partition(":")[2], 32).generate([""] * n, specs, seeds)
    labels = np.array([SHAPES.index(spec.subject) for spec in specs])
    logits, features = reference.judge(images, list(SHAPES))
    return generator_rows(features, logits, labels, [generator] * n, set())[0]


def test_an_unfaithful_generator_scores_lower(reference: EmbeddedReference) -> None:
    """Omitting the subject in 70% of images costs about 70% of the (faithful) recognizability."""
    faithful = _judged(reference, "procedural:flat")
    unfaithful = _judged(reference, "procedural:flat?omission=0.7")
    assert faithful["recognizability"] >= 0.8
    assert unfaithful["recognizability"] < faithful["recognizability"] - 0.35


def test_collapsed_generator_is_less_diverse(reference: EmbeddedReference) -> None:
    assert (
        _judged(reference, "procedural:flat?diversity=collapsed")["diversity"]
        < _judged(reference, "procedural:flat?diversity=high")["diversity"]
    )


def test_embedded_reference_names_what_it_cannot_judge(reference: EmbeddedReference) -> None:
    with pytest.raises(ValueError, match=r"eval.reference_model"):
        reference.columns(["circle", "spaceship"])
    assert reference.columns(["circles", "square"]) == [0, 1]  # spellings map to the subject


def test_open_clip_reference_zero_shot() -> None:
    images = create_procedural_generator("flat", 32).generate(
        ["", ""], [reference_module._spec("circle", np.random.default_rng(0), 0.0)] * 2, [1, 2]
    )
    judge = clip_reference("synth-tiny-cnn-32")
    logits, features = judge.judge(images, ["circle", "square", "star"])
    assert logits.shape == (2, 3) and features.shape[0] == 2
    np.testing.assert_allclose(np.linalg.norm(features, axis=1), 1.0, atol=1e-5)


def test_embedded_is_registered_by_the_analyse_package(monkeypatch: pytest.MonkeyPatch) -> None:
    assert EMBEDDED in REFERENCES
    monkeypatch.setitem(REFERENCES._items, EMBEDDED, lambda device, batch_size: ("built", device, batch_size))
    assert load_reference(EMBEDDED, "cpu", 7) == ("built", "cpu", 7)
    monkeypatch.delitem(REFERENCES._items, EMBEDDED)
    with pytest.raises(ValueError, match=r"eval\.reference_model='embedded' is not registered"):
        load_reference(EMBEDDED)
