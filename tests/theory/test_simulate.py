"""The sweep end to end on reduced sizes: direction of the effects, outputs, determinism, resume.

Reduced sizes keep the paper's structure (50 features in 5 segments, 80 neurons, two web draws per
epoch) but shrink dim to 100; Adam's per-coordinate steps then move a unit row ~5× less, so the
encoder and recaptioner learning rates are raised to learn in 12 epochs.
"""

import json
import math

import pytest

from synthmphn.config import SimulateConfig
from synthmphn.io import read_json
from synthmphn.theory.simulate import run_simulation, unit_path
from synthmphn.theory.summary import PUBLISHED
from synthmphn.theory.unit import takes_authors_branch

SMALL = dict(dim=100, n_web=1000, epochs=12, batch_size=100, lr=0.03, recaptioner_lr=0.01, n_test=300)


def mean_accuracy(result: dict, p: float, condition: str) -> float:
    row = next(r for r in result["summary"] if math.isclose(r["p"], p))
    return row[condition]["accuracy"]["mean"]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    config = SimulateConfig(ps=[0.0, 0.3, 0.4], seeds=[0, 1], tsne_p=0.4, workers=2, **SMALL)
    out = tmp_path_factory.mktemp("sim")
    return out, read_json(run_simulation(config, out, seed=0))


def test_raw_accuracy_falls_with_misalignment(sweep):
    _, result = sweep
    assert mean_accuracy(result, 0.4, "raw") < mean_accuracy(result, 0.0, "raw") - 0.1


def test_recaptioning_beats_raw_under_misalignment(sweep):
    _, result = sweep
    assert mean_accuracy(result, 0.3, "recaptioned") > mean_accuracy(result, 0.3, "raw")
    row = next(r for r in result["summary"] if math.isclose(r["p"], 0.3))
    assert row["filter"]["replaced_misaligned"]["mean"] > 0.8 > row["filter"]["replaced_aligned"]["mean"]
    assert row["filter"]["misaligned_after"]["mean"] < 0.05


def test_outputs_are_complete(sweep):
    out, result = sweep
    assert {"config", "run_seed", "published", "summary", "claims", "units"} <= result.keys()
    assert result["published"] == json.loads(json.dumps(PUBLISHED))
    assert len(result["units"]) == 6 and {u["seed"] for u in result["units"]} == {0, 1}
    for name in (
        "accuracy_vs_p",
        "purification_vs_p",
        "alignment_vs_p",
        "filter_vs_p",
        "tsne",
        "loading_histograms",
    ):
        assert (out / f"{name}.png").stat().st_size > 10_000
    assert (out / "run_info.json").exists() and (out / "config.yaml").exists()
    unit = read_json(unit_path(out, 0.4, 1))
    assert len(unit["raw"]["tsne"]) == 300 and len(unit["labels"]) == 300
    assert sum(unit["recaptioned"]["histogram_WM"]) == 80 * 50
    assert "tsne" not in read_json(unit_path(out, 0.3, 1))["raw"]
    for condition in ("raw", "recaptioned"):
        assert 0 <= result["units"][0][condition]["purified_features"] <= 50


def test_sweep_is_deterministic_resumable_and_independent_of_workers(sweep, tmp_path):
    config = SimulateConfig(ps=[0.0, 0.3], seeds=[1], tsne_p=0.4, workers=1, **SMALL)
    first = run_simulation(config, tmp_path / "a", seed=0)
    second = run_simulation(config, tmp_path / "b", seed=0)
    assert first.read_bytes() == second.read_bytes()
    # the same unit computed in a worker process beside another (module sweep, workers=2) is identical
    assert read_json(unit_path(sweep[0], 0.3, 1)) == read_json(unit_path(tmp_path / "a", 0.3, 1))
    # resume: delete one unit, rerun, same JSON; the kept unit is not recomputed
    kept = unit_path(tmp_path / "a", 0.0, 1)
    kept_mtime = kept.stat().st_mtime_ns
    unit_path(tmp_path / "a", 0.3, 1).unlink()
    assert run_simulation(config, tmp_path / "a", seed=0).read_bytes() == second.read_bytes()
    assert kept.stat().st_mtime_ns == kept_mtime
    timing = read_json(tmp_path / "a" / "timing.json")
    assert list(timing["computed_units_seconds"]) == ["p0.3000_seed1"]


def test_changed_settings_recompute_units(tmp_path):
    config = SimulateConfig(ps=[0.2], seeds=[0], tsne_p=0.9, workers=1, **{**SMALL, "epochs": 3})
    run_simulation(config, tmp_path, seed=0)
    changed = config.model_copy(update={"filter_ratio": 1.5})
    run_simulation(changed, tmp_path, seed=0)
    assert list(read_json(tmp_path / "timing.json")["computed_units_seconds"]) == ["p0.2000_seed0"]
    run_simulation(changed, tmp_path, seed=0)
    assert read_json(tmp_path / "timing.json")["computed_units_seconds"] == {}


def test_authors_branch_retrains_longer_on_the_filtered_set_only(tmp_path):
    base = {**SMALL, "epochs": 3}
    config = SimulateConfig(
        ps=[0.4],
        seeds=[0],
        tsne_p=0.9,
        workers=1,
        authors_retrain=True,
        authors_retrain_max_features=50,
        authors_retrain_epochs=5,
        **base,
    )
    unit = read_json(run_simulation(config, tmp_path / "authors", seed=0))["units"][0]
    assert unit["filter"]["authors_branch"] == 1.0
    assert len(unit["recaptioned"]["loss_history"]) == 5 and len(unit["raw"]["loss_history"]) == 3
    plain = SimulateConfig(ps=[0.4], seeds=[0], tsne_p=0.9, workers=1, **base)
    unit = read_json(run_simulation(plain, tmp_path / "plain", seed=0))["units"][0]
    assert unit["filter"]["authors_branch"] == 0.0 and len(unit["recaptioned"]["loss_history"]) == 3


def test_authors_branch_needs_the_flag_and_few_purified_features():
    on = SimulateConfig(authors_retrain=True)
    assert takes_authors_branch(on, 25) and not takes_authors_branch(on, 26)
    assert not takes_authors_branch(SimulateConfig(), 0)
