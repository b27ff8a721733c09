"""The hardness curriculum in training: β(t) reaches the loss each step and is logged next to p(t)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_run import tiny_config

from synthmphn.losses import create_loss
from synthmphn.train.hardness import HardnessCurriculum
from synthmphn.train.logging import METRICS_NAME, read_metrics
from synthmphn.train.loop import run_training


def test_beta_follows_its_schedule_and_reaches_the_loss(
    finished_run: Path, tiny_dataset: Path, tmp_path: Path
) -> None:
    # 4 steps; step k (1-based) trains on progress t = (k − 1) / 4, for p(t) and β(t) alike.
    cfg = tiny_config(tmp_path, tiny_dataset, loss="hn-nce", hn_beta={"name": "linear", "max": 2.0})
    records = read_metrics(run_training(cfg) / METRICS_NAME)
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    # β = 2·t: t = 0 → 0, t = 0.5 → 1, and the last batch (t = 3/4, the run's end) → 1.5 (β(1) = 2 is the peak).
    assert [r["hn_beta"] for r in records] == [0.0, 0.5, 1.0, 1.5]
    # p follows its own schedule (tiny_config: linear, p_max 0.5) in the same records.
    assert [r["hn_fraction"] for r in records] == [0.0, 0.125, 0.25, 0.375]
    # β(0) = 0 makes step 1 an mpclip step: same loss as the mpclip run on the same batches and init ...
    reference = read_metrics(finished_run / METRICS_NAME)
    assert "hn_beta" not in reference[0]
    assert records[0]["loss"] == pytest.approx(reference[0]["loss"], rel=1e-5)
    # ... and β(1/4) = 0.5 makes step 2 differ from it.
    assert records[1]["loss"] != pytest.approx(reference[1]["loss"], rel=1e-3)


def test_fixed_beta_is_logged_every_step(tiny_dataset: Path, tmp_path: Path) -> None:
    cfg = tiny_config(tmp_path, tiny_dataset, loss="hn-nce-thesis", steps=2)
    records = read_metrics(run_training(cfg) / METRICS_NAME)
    assert [r["hn_beta"] for r in records] == [0.25, 0.25]


def test_curriculum_sets_the_loss_beta(tiny_dataset: Path, tmp_path: Path) -> None:
    cfg = tiny_config(tmp_path, tiny_dataset, loss="hn-nce", hn_beta={"name": "step", "max": 1.0, "steps": 2})
    loss = create_loss("hn-nce")
    curriculum = HardnessCurriculum(loss, cfg.train)
    assert curriculum.at(0.0) == {"hn_beta": 0.5} and loss.beta == 0.5
    assert curriculum.at(0.5) == {"hn_beta": 1.0} and loss.beta == 1.0
    assert HardnessCurriculum(create_loss("mpclip"), tiny_config(tmp_path, tiny_dataset).train).at(0.5) == {}


def test_beta_schedule_on_a_loss_without_beta_is_an_error(tiny_dataset: Path, tmp_path: Path) -> None:
    cfg = tiny_config(tmp_path, tiny_dataset, hn_beta={"name": "linear"})
    with pytest.raises(ValueError, match=r"train.hn_beta .* train.loss='mpclip' has no β"):
        run_training(cfg)
    assert not (tmp_path / "train" / METRICS_NAME).exists()


def test_beta_fixed_and_scheduled_is_an_error(tiny_dataset: Path, tmp_path: Path) -> None:
    cfg = tiny_config(
        tmp_path, tiny_dataset, loss="hn-nce", loss_options={"beta": 0.5}, hn_beta={"name": "linear"}
    )
    with pytest.raises(ValueError, match="set only one of them"):
        run_training(cfg)


def test_unknown_beta_schedule_lists_the_known_ones(tiny_dataset: Path, tmp_path: Path) -> None:
    cfg = tiny_config(tmp_path, tiny_dataset, loss="hn-nce", hn_beta={"name": "zigzag"})
    with pytest.raises(KeyError, match="linear"):
        run_training(cfg)
