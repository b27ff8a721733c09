"""The dry-run estimate's s/step: measured on the same step cost first, then on the same images per step."""

from synthmphn.config import TrainConfig
from synthmphn.experiment.estimate import Measured, step_cost
from synthmphn.train.budget import images_per_step


def test_rate_prefers_the_same_step_cost_over_the_same_images_per_step():
    mpclip = TrainConfig(loss="mpclip", batch_size=64, images_per_caption=2)  # 128 images, 64 captions
    clip = TrainConfig(loss="clip", batch_size=128, images_per_caption=1)  # 128 images, 128 captions
    negclip = TrainConfig(loss="negclip", batch_size=256, images_per_caption=1)  # 256 captions
    measured = Measured(
        by_cost={step_cost(mpclip): [0.8, 1.0, 0.9], step_cost(clip): [1.4, 1.5]},
        by_images={128.0: [0.8, 1.0, 0.9, 1.4, 1.5]},
    )
    assert measured.rate(mpclip) == (0.9, "measured")
    assert measured.rate(clip) == (1.45, "measured")
    # clip at p = 0 costs like clip: p(t) is not part of the step cost
    assert measured.rate(TrainConfig(loss="clip", batch_size=128, hn_schedule={"p_max": 0.0})) == (
        1.45,
        "measured",
    )
    # negclip was never measured: the pooled median of runs at its images per step, marked as such
    assert step_cost(negclip) not in measured.by_cost
    assert (
        images_per_step(negclip) == 128
    )  # it ignores HN images: 256 captions x 1 image, half of them negatives
    assert measured.rate(negclip) == (1.0, "images")
    assert Measured().rate(mpclip) == (None, "none")
