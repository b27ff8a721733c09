"""What train checks before it reads data or builds a model (`check_train_config`), one message per mistake."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_run import tiny_config

from synthmphn.train.preflight import check_train_config


@pytest.mark.parametrize(
    ("train", "error", "message"),
    [
        ({"loss": "mpclipp"}, KeyError, "unknown loss 'mpclipp'"),
        ({"loss_options": {"temperature": 1.0}}, ValueError, "loss 'mpclip' has no option temperature"),
        ({"hn_schedule": {"name": "sometimes"}}, KeyError, "'sometimes'"),
        ({"model": {"name": "synth-huge"}}, ValueError, "unknown model 'synth-huge'"),
        (
            {"loss": "siglip", "model": {"name": "synth-tiny-cnn-32"}},
            ValueError,
            "train.loss='siglip' needs a model with a learnable logit bias, but train.model.name='synth-tiny-cnn-32'",
        ),
        ({"device": "cuda:7"}, ValueError, "train.device='cuda:7'"),
        ({"loss": "negclip", "hn_schedule": {"name": "none"}}, ValueError, "never puts a pair"),
    ],
)
def test_each_mistake_is_named(tmp_path: Path, train: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_train_config(tiny_config(tmp_path, tmp_path, **train))


def test_a_good_config_passes_and_siglip_fits_the_sigmoid_model(tmp_path: Path) -> None:
    check_train_config(tiny_config(tmp_path, tmp_path))
    check_train_config(tiny_config(tmp_path, tmp_path, loss="siglip", model={"name": "synth-tiny-sigmoid"}))


def test_hn_loss_on_a_config_that_builds_no_negatives(tmp_path: Path) -> None:
    cfg = tiny_config(tmp_path, tmp_path, loss="tripletclip")
    cfg.captions.negatives_per_caption = 0
    check_train_config(cfg)  # the data is elsewhere: checked when it is read
    with pytest.raises(ValueError, match="captions.negatives_per_caption=0 builds none"):
        check_train_config(cfg, data_from_config=True)
