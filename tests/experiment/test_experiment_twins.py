"""Equal cells of different grids: fingerprints, and a second grid copying the finished twin."""

import json
from pathlib import Path

import pytest

from synthmphn.config import load_config
from synthmphn.experiment import load_experiment, plan_grid, run_config, run_experiment
from synthmphn.experiment.estimate import estimate_grid, format_estimate
from synthmphn.experiment.twins import REUSED_FROM, run_fingerprint


def _fingerprint(*overrides: str) -> str:
    return run_fingerprint(load_config(None, ["train.data=runs/g/datasets/abc123/dataset", *overrides]))


def test_fingerprint_ignores_where_and_threads_but_not_what():
    base = _fingerprint()
    assert _fingerprint("output.dir=elsewhere", "train.threads=2") == base
    # The same dataset key in another grid's folder is the same data.
    assert _fingerprint("train.data=runs/other/datasets/abc123/dataset") == base
    assert _fingerprint("train.data=runs/g/datasets/def456/dataset") != base
    assert _fingerprint("train.loss=clip") != _fingerprint("train.loss=mpclip")
    assert _fingerprint("seed=1") != base


def _grid(folder: Path, base: str, name: str, variants: str) -> Path:
    (folder / "base.yaml").write_text(base)
    spec = folder / f"{name}.yaml"
    spec.write_text(
        f"name: {name}\nbase: base.yaml\noutput: {folder / name}\nseeds: [0]\n"
        f"metrics: [retrieval/i2t_r1]\nvariants:\n{variants}"
    )
    return spec


@pytest.mark.timeout(900)
def test_second_grid_copies_the_equal_cell_and_trains_the_new_one(tmp_path: Path, tiny_grid_base: str):
    run_experiment(_grid(tmp_path, tiny_grid_base, "first", "  mpclip: [train.loss=mpclip]\n"))
    second = _grid(
        tmp_path,
        tiny_grid_base,
        "second",
        "  same: [train.loss=mpclip]\n  other: [train.loss=clip, train.images_per_caption=1]\n",
    )
    # the dry-run estimate knows the twin will be copied, not trained
    estimate = estimate_grid(load_experiment(second))
    assert estimate.copied == 1 and [c.variant for c in estimate.todo] == ["other"]
    assert "2 cells, 1 to run, 1 copied from finished twins" in format_estimate(
        load_experiment(second), estimate
    )
    run_experiment(second)

    source, copy = tmp_path / "first" / "mpclip" / "seed0", tmp_path / "second" / "same" / "seed0"
    assert (copy / REUSED_FROM).read_text().strip() == str(source.resolve())
    assert not (copy / "train").exists()
    metrics = json.loads((copy / "eval" / "metrics.json").read_text())
    assert metrics == json.loads((source / "eval" / "metrics.json").read_text())
    # The clip cell has no twin, so it trained.
    other = tmp_path / "second" / "other" / "seed0"
    assert (other / "train" / "checkpoints" / "last.pt").exists()
    assert not (other / REUSED_FROM).exists()


@pytest.mark.timeout(900)
def test_share_runs_false_trains_again(tmp_path: Path, tiny_grid_base: str):
    run_experiment(_grid(tmp_path, tiny_grid_base, "first", "  mpclip: [train.loss=mpclip]\n"))
    spec = _grid(tmp_path, tiny_grid_base, "second", "  same: [train.loss=mpclip]\n")
    spec.write_text(spec.read_text() + "share_runs: false\n")
    run_experiment(spec)
    copy = tmp_path / "second" / "same" / "seed0"
    assert not (copy / REUSED_FROM).exists()
    assert (copy / "train" / "checkpoints" / "last.pt").exists()


def _cells(name: str) -> dict[str, str]:
    """variant/seed -> fingerprint for a shipped experiment."""
    spec = load_experiment(Path(__file__).parents[2] / "configs" / "experiments" / f"{name}.yaml")
    runs, _ = plan_grid(spec)
    return {
        f"{r.variant}/{r.seed}": run_fingerprint(run_config(spec, r.variant, r.seed, list(r.overrides)))
        for r in runs
    }


def test_shipped_grids_share_the_cells_they_claim_to():
    objectives, schedule, msm = _cells("objectives"), _cells("hn-schedule"), _cells("msm")
    for seed in (0, 1, 2, 3, 4):
        assert objectives[f"tripletclip/{seed}"] == schedule[f"tripletclip-constant/{seed}"]
        assert objectives[f"mpclip/{seed}"] == schedule[f"mpclip-constant/{seed}"]
        assert objectives[f"mpclip/{seed}"] == msm[f"msm-all/{seed}"]
        assert objectives[f"hn-nce/{seed}"] == schedule[f"hn-nce-constant/{seed}"]
    assert schedule["tripletclip-linear/0"] not in objectives.values()
