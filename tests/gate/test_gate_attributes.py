"""The gate's attribute judges (`gate.attributes`): colour and count, which the grey subject reference misses."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from synthmphn.analyse.embedded import RenderSet
from synthmphn.config import validate_config
from synthmphn.data.records import CaptionSpec
from synthmphn.eval.classifier import TrainSettings
from synthmphn.gate import run_gate
from synthmphn.gate.attributes import attribute_judge, attribute_values, caption_value
from synthmphn.gate.scoring import Caption, GateScorer, _pair, softmax
from synthmphn.images.procedural import create_procedural_generator

COLOURS = attribute_values("colour")


def spec(**attributes: str) -> CaptionSpec:
    return CaptionSpec(subject="star", category="shape", attributes=attributes)


def test_values_and_caption_values_hand_worked() -> None:
    assert COLOURS[:3] == ["red", "orange", "yellow"] and len(COLOURS) == 10
    assert attribute_values("count") == ["1", "2", "3", "4", "5"]  # the bank's 1-4, and a count failure of 4
    with pytest.raises(ValueError, match=r"no judge for 'size'; choose from \['colour', 'count'\]"):
        attribute_values("size")
    assert caption_value("colour", spec(colour="Red"), COLOURS) == "red"
    assert caption_value("colour", spec(color="blue"), COLOURS) == "blue"  # the attribute alias
    assert caption_value("colour", spec(colour="teal"), COLOURS) is None  # not a class of the judge
    assert caption_value("colour", spec(), COLOURS) is None  # the style chooses: nothing to judge
    counts = attribute_values("count")
    assert caption_value("count", spec(), counts) == "1"  # an unnamed count draws one instance
    assert caption_value("count", spec(count="three"), counts) == "3"
    assert caption_value("colour", None, COLOURS) is None


class Fixed:
    """A reference that returns fixed logits (one row per image) over its `subjects`."""

    name = "fixed"

    def __init__(self, subjects: Sequence[str], rows: list[list[float]]) -> None:
        self.subjects, self.rows = list(subjects), np.array(rows, dtype=np.float64)

    def judge(self, images: Sequence[Image.Image], classnames: list[str]) -> tuple[np.ndarray, np.ndarray]:
        columns = [self.subjects.index(c) for c in classnames]
        return self.rows[: len(images)][:, columns], np.zeros((len(images), 2))


def test_scorer_takes_the_judged_colour_into_own_and_the_margin() -> None:
    subjects = Fixed(["star", "cross"], [[3.0, 0.0], [3.0, 0.0]])
    colour_logits = [[0.0] * 10, [0.0] * 10]
    colour_logits[0][COLOURS.index("blue")] = 2.0  # image 0 looks blue
    colour_logits[1][COLOURS.index("red")] = 6.0  # image 1 looks clearly red
    scorer = GateScorer(subjects, ["star", "cross"], {"colour": Fixed(COLOURS, colour_logits)})
    red, blue = Caption("a red star", spec(colour="red")), Caption("a blue star", spec(colour="blue"))
    images = [Image.new("RGB", (8, 8))] * 2
    # both captioned red; image 0 must beat "a blue star" (a colour edit: the subject reference abstains)
    scores = scorer.score(images, [red, red], [[blue], [blue]])
    p_subject = float(softmax(np.array([[3.0, 0.0]]))[0, 0])
    p_red_of_blue = float(softmax(np.array([colour_logits[0]]))[0, COLOURS.index("red")])
    assert scores[0].own == pytest.approx(min(p_subject, p_red_of_blue))
    assert (
        scores[0].margin == pytest.approx(_pair(0.0, 2.0)) and scores[0].margin < 0
    )  # looks like its partner
    assert scores[1].own == pytest.approx(
        p_subject
    )  # p(red) 0.978 > p(star) 0.953: the subject is the weaker part
    assert scores[1].margin == pytest.approx(_pair(6.0, 0.0)) and scores[1].margin > 0
    # without the judge the colour edit is not judged at all
    plain = GateScorer(subjects, ["star", "cross"]).score(images, [red, red], [[blue], [blue]])
    assert [s.margin for s in plain] == [None, None] and plain[0].own == pytest.approx(p_subject)


def test_a_small_colour_judge_reads_the_subjects_colour(tmp_path: Path) -> None:
    render = RenderSet(
        subjects=("star", "circle"), styles=("flat",), per_style=150, size=32, attribute_rate=0.0
    )
    settings = TrainSettings(epochs=6, batch_size=32, width=16, seed=0)
    judge = attribute_judge("colour", render, settings, cache=tmp_path)
    assert len(list((tmp_path / "gate-judges").glob("colour-*.pt"))) == 1
    colours = ["red", "green", "blue", "yellow", "purple", "black"]
    specs = [
        CaptionSpec(subject="star", category="shape", attributes={"colour": c})
        for c in colours
        for _ in range(5)
    ]
    images = create_procedural_generator("flat", 32).generate(
        [""] * len(specs), specs, list(range(len(specs)))
    )
    logits, _ = judge.judge(images, COLOURS)
    predicted = [COLOURS[i] for i in logits.argmax(axis=1)]
    accuracy = np.mean([p == s.attributes["colour"] for p, s in zip(predicted, specs, strict=True)])
    assert accuracy >= 0.6, (accuracy, predicted)  # chance 0.1
    again = attribute_judge("colour", render, settings, cache=tmp_path)  # from the cache: the same model
    assert np.allclose(again.judge(images, COLOURS)[0], logits)


def test_attributes_with_an_open_clip_reference_are_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    cfg = validate_config({"gate": {"model": "ViT-B-32:openai", "attributes": ["colour"]}})
    with pytest.raises(ValueError, match=r"attribute judges go with the embedded reference"):
        run_gate(tmp_path / "src", tmp_path / "out", cfg)
    assert not (tmp_path / "out").exists()
