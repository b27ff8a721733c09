"""Experiment grid planning and the results table (no training: pure bookkeeping)."""

from pathlib import Path

import pytest

from synthmphn.config import TrainConfig
from synthmphn.experiment import load_experiment, plan_grid, run_config
from synthmphn.experiment.spec import source_key
from synthmphn.report.experiment import results_markdown, summarise
from synthmphn.train.budget import images_per_step, mean_pairs_per_batch


def _write_spec(tmp_path: Path, body: str) -> Path:
    (tmp_path / "base.yaml").write_text("captions:\n  n_groups: 10\nimages:\n  size: 16\n")
    path = tmp_path / "exp.yaml"
    path.write_text(body)
    return path


def test_datasets_are_shared_between_variants_and_seeds(tmp_path: Path):
    path = _write_spec(
        tmp_path,
        "name: t\nbase: base.yaml\noutput: out\nseeds: [0, 1]\nvariants:\n"
        "  clip: [train.loss=clip]\n  mpclip: [train.loss=mpclip]\n  small: [images.size=8]\n",
    )
    spec = load_experiment(path)
    runs, datasets = plan_grid(spec)
    assert len(runs) == 6
    # clip and mpclip differ only in training -> one dataset; images.size changes the data -> a second one.
    assert len(datasets) == 2
    keys = {r.variant: r.dataset_key for r in runs}
    assert keys["clip"] == keys["mpclip"] != keys["small"]
    assert runs[0].run_dir == Path("out") / "clip" / "seed0"


def test_variants_differing_only_in_images_workers_share_one_dataset(tmp_path: Path):
    path = _write_spec(
        tmp_path,
        "name: t\nbase: base.yaml\noutput: out\nvariants:\n"
        "  one: [images.workers=1]\n  four: [images.workers=4, images.engine=ray]\n  big: [images.size=24]\n",
    )
    runs, datasets = plan_grid(load_experiment(path))
    keys = {r.variant: r.dataset_key for r in runs}
    assert keys["one"] == keys["four"] != keys["big"]
    assert len(datasets) == 2


def test_recaptioned_datasets_differ_by_scorer_checkpoint(tmp_path: Path):
    path = _write_spec(
        tmp_path,
        "name: t\nbase: base.yaml\noutput: out\nvariants:\n  raw: []\n"
        "  recap-a: {recaption: true, overrides: [recaption.scorer_checkpoint=a.pt]}\n"
        "  recap-b: {recaption: true, overrides: [recaption.scorer_checkpoint=b.pt]}\n"
        "  recap-a-again: {recaption: true, overrides: [recaption.scorer_checkpoint=a.pt, recaption.threads=4]}\n",
    )
    runs, datasets = plan_grid(load_experiment(path))
    keys = {r.variant: r.dataset_key for r in runs}
    assert keys["recap-a"] == keys["recap-a-again"] != keys["recap-b"]
    assert keys["recap-a"].endswith("-recap") and not keys["raw"].endswith("-recap")
    assert len(datasets) == 3
    # every recaptioned dataset is made from the raw variant's own shards, not a copy built per variant
    assert {source_key(cfg) for cfg in datasets.values()} == {keys["raw"]}


def test_gated_datasets_are_keyed_by_their_gate_settings(tmp_path: Path):
    path = _write_spec(
        tmp_path,
        "name: t\nbase: base.yaml\noutput: out\nvariants:\n  raw: []\n  trained-alike: [train.loss=clip]\n"
        "  drop: {gate: true, overrides: [gate.action=drop]}\n"
        "  drop-on-gpu: {gate: true, overrides: [gate.action=drop, gate.device=cuda]}\n"
        "  oracle: {gate: true, overrides: [gate.action=oracle]}\n",
    )
    runs, datasets = plan_grid(load_experiment(path))
    keys = {r.variant: r.dataset_key for r in runs}
    assert keys["raw"] == keys["trained-alike"] and not keys["raw"].endswith("-gate")
    assert keys["drop"] == keys["drop-on-gpu"] != keys["oracle"]  # gate.device never changes the shards
    assert keys["drop"].endswith("-gate") and keys["oracle"].endswith("-gate")
    assert len(datasets) == 3
    both = _write_spec(
        tmp_path, "name: t\nbase: base.yaml\noutput: out\nvariants:\n  x: {gate: true, recaption: true}\n"
    )
    with pytest.raises(ValueError, match="either recaptioned or gated, not both"):
        load_experiment(both)


def test_data_seed_null_builds_one_dataset_per_seed(tmp_path: Path):
    path = _write_spec(
        tmp_path,
        "name: t\nbase: base.yaml\noutput: out\nseeds: [0, 1]\ndata_seed: null\nvariants:\n  a: []\n",
    )
    _, datasets = plan_grid(load_experiment(path))
    assert len(datasets) == 2


def test_unknown_key_and_empty_variants_are_errors(tmp_path: Path):
    with pytest.raises(ValueError, match="variant"):
        load_experiment(_write_spec(tmp_path, "name: t\noutput: o\nvariants: {}\n"))
    with pytest.raises(ValueError, match="seedz"):
        load_experiment(_write_spec(tmp_path, "name: t\noutput: o\nseedz: [1]\nvariants:\n  a: []\n"))


def test_summary_mean_and_sample_std_by_hand():
    table = {"a": {0: {"acc": 0.5}, 1: {"acc": 0.7}}, "b": {0: {"acc": 0.9}, 1: {"acc": 0.9}}}
    rows = summarise(table, None)
    by = {r["variant"]: r for r in rows}
    assert by["a"]["mean"] == pytest.approx(0.6)
    assert by["a"]["std"] == pytest.approx(0.1414213562)  # sqrt(((.1)^2 + (.1)^2) / 1)
    assert by["b"]["std"] == 0.0 and by["b"]["n"] == 2
    md = results_markdown(rows, ["a", "b"])
    assert "| acc | 0.600 ± 0.141 | **0.900 ± 0.000** |" in md


SHIPPED = sorted((Path(__file__).parents[2] / "configs" / "experiments").glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_experiments_validate_every_cell(path: Path):
    spec = load_experiment(path)
    runs, _ = plan_grid(spec)  # resolves and validates every (variant, seed) config
    assert len(spec.seeds) >= 5  # issue #18: >= 5 paired seeds per cell
    assert len(runs) == len(spec.variants) * len(spec.seeds)


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_grids_hold_images_per_step_equal_across_variants(path: Path):
    spec = load_experiment(path)
    runs, _ = plan_grid(spec)
    budgets = {
        f"{r.variant}/{r.seed}": images_per_step(run_config(spec, r.variant, r.seed, list(r.overrides)).train)
        for r in runs
    }
    assert len(set(budgets.values())) == 1, budgets


def test_objectives_grid_has_mpclip_without_pairs_and_no_alias_column():
    spec = load_experiment(Path(__file__).parents[2] / "configs" / "experiments" / "objectives.yaml")
    p0 = run_config(spec, "mpclip-p0", 0).train
    assert p0.loss == "mpclip" and mean_pairs_per_batch(p0) == 0.0
    assert all(run_config(spec, v, 0).train.loss != "tripletclip-sym" for v in spec.variants)


def test_images_per_step_by_hand():
    def tc(**kw: object) -> TrainConfig:
        return TrainConfig.model_validate({"steps": 10, **kw})

    constant = {"name": "constant", "p_max": 0.5}
    assert images_per_step(tc(loss="mpclip", batch_size=64, images_per_caption=2)) == 128
    assert images_per_step(tc(loss="clip", batch_size=64, accum_steps=3)) == 192
    # negclip ignores HN images: at p = 0.5 all 128 slots are pairs, 64 of them HN
    assert images_per_step(tc(loss="negclip", batch_size=128, hn_schedule=constant)) == 64
    assert images_per_step(tc(loss="negclip", batch_size=10, hn_schedule={"name": "none"})) == 10
    # linear 0 -> 0.5 on B = 4: ⌊2t⌋ pairs = 0 for t < 0.5, 1 for 0.5 <= t < 1, 2 at t = 1 (1 of 1001 points)
    linear = tc(loss="negclip", batch_size=4, hn_schedule={"name": "linear", "p_max": 0.5})
    assert mean_pairs_per_batch(linear) == pytest.approx((500 * 1 + 1 * 2) / 1001)
    assert images_per_step(linear) == pytest.approx(4 - (502 / 1001))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_grids_state_claims_on_their_own_variants(path: Path):
    spec = load_experiment(path)  # validates that every claim names two variants of the grid
    assert spec.claims
    assert spec.metrics is None or "aggregate" in spec.metrics or path.stem == "recaption"
