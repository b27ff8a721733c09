"""The CapFilt rule on hand-set embeddings: signs, α, group means, guards."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest
import torch
from PIL import Image

from synthmphn.recaption.filter import Decision, filter_captions, item_features, passes_rule


class FakeScorer:
    """Images embed by their red/green/blue pixel value; texts by a hand-set table (unnormalised on purpose)."""

    def __init__(self, texts: dict[str, Sequence[float]]) -> None:
        self.texts = texts
        self.image_calls = 0

    def encode_images(self, images: Sequence[Image.Image]) -> torch.Tensor:
        self.image_calls += 1
        return torch.tensor([image.getpixel((0, 0)) for image in images], dtype=torch.float32)

    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        return torch.tensor([self.texts[t] for t in texts], dtype=torch.float32)


def solid(rgb: tuple[int, int, int]) -> Image.Image:
    return Image.new("RGB", (4, 4), rgb)


RED = solid((1, 0, 0))
GREEN = solid((0, 1, 0))


@pytest.mark.parametrize(
    ("old", "new", "alpha", "expected"),
    [
        (0.5, 0.6, 1.2, True),  # 0.6 >= 0.6
        (0.5, 0.59, 1.2, False),
        (0.5, 0.45, 0.9, True),  # α < 1 tolerates a small loss
        (0.5, 0.5, 1.0, True),
        (-0.5, -0.55, 1.2, True),  # negative old score: the bar α·s_old = -0.6 is below s_old
        (-0.5, -0.65, 1.2, False),
        (-0.5, -0.45, 0.8, False),  # ... and with α < 1 it is above s_old (-0.4)
        (0.0, 0.0, 1.2, True),
    ],
)
def test_rule_as_written(old: float, new: float, alpha: float, expected: bool) -> None:
    assert passes_rule(old, new, alpha) is expected


def test_scores_are_cosines_and_rule_is_applied() -> None:
    scorer = FakeScorer(
        {
            "a red thing": [2, 0, 0],  # cos 1 with RED
            "a green thing": [0, 3, 0],  # cos 0 with RED
            "reddish": [1, 1, 0],  # cos 1/√2 with RED
            "not red": [-1, 1, 0],  # cos -1/√2 with RED
        }
    )
    decisions = filter_captions(
        scorer,
        [RED, RED, RED, RED],
        old=["a green thing", "a red thing", "reddish", "not red"],
        new=["a red thing", "reddish", "a red thing", "a green thing"],
        alpha=1.2,
    )
    assert [d.replaced for d in decisions] == [True, False, True, True]
    assert decisions[0].old_score == pytest.approx(0.0) and decisions[0].new_score == pytest.approx(1.0)
    assert decisions[1].new_score == pytest.approx(1 / math.sqrt(2))
    assert decisions[2].old_score == pytest.approx(1 / math.sqrt(2))  # 1.0 >= 1.2 * 0.707
    assert decisions[3].old_score == pytest.approx(-1 / math.sqrt(2))  # 0 >= 1.2 * -0.707
    assert [d.caption for d in decisions] == ["a red thing", "a red thing", "a red thing", "a green thing"]
    assert scorer.image_calls == 1  # every image encoded once, in one call


def test_group_is_scored_against_its_mean_image_feature() -> None:
    scorer = FakeScorer({"red": [1, 0, 0], "green": [0, 1, 0], "red and green": [1, 1, 0]})
    mean = item_features(scorer, [[RED, GREEN], RED])
    assert torch.allclose(mean[0], torch.tensor([1, 1, 0]) / math.sqrt(2))
    assert torch.allclose(mean[1], torch.tensor([1.0, 0, 0]))
    decisions = filter_captions(scorer, [[RED, GREEN]], ["red"], ["red and green"], alpha=1.2)
    assert decisions[0].old_score == pytest.approx(1 / math.sqrt(2))
    assert decisions[0].new_score == pytest.approx(1.0)
    assert decisions[0].replaced


def test_identical_or_empty_new_caption_is_never_a_replacement() -> None:
    scorer = FakeScorer({"red": [1, 0, 0], "": [1, 0, 0], "  ": [1, 0, 0]})
    decisions = filter_captions(scorer, [RED, RED, RED], ["red", "red", "red"], ["red", "", "  "], alpha=0.5)
    assert [d.replaced for d in decisions] == [False, False, False]
    assert all(d.caption == "red" for d in decisions)


def test_decision_json_and_bad_input() -> None:
    decision = Decision("a", "b", 0.1, 0.2, True)
    assert decision.to_json() == {
        "old": "a",
        "new": "b",
        "old_score": 0.1,
        "new_score": 0.2,
        "replaced": True,
    }
    scorer = FakeScorer({"a": [1, 0, 0]})
    assert filter_captions(scorer, [], [], [], alpha=1.0) == []
    with pytest.raises(ValueError, match="one old and one new caption per item"):
        filter_captions(scorer, [RED], ["a"], [], alpha=1.0)
    with pytest.raises(ValueError, match="at least one image"):
        item_features(scorer, [[]])
