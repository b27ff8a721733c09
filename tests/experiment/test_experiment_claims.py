"""Paired design and claims: verdicts by hand, the aggregate by hand, claim validation, and a tiny real grid
whose variants share initial weights and batch order at a seed and whose results carry the claims table."""

import csv
import math
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from synthmphn.cli import app
from synthmphn.data.sampler import GroupBatchSampler
from synthmphn.data.store import GroupStore
from synthmphn.experiment import load_experiment, plan_grid, run_config, run_experiment
from synthmphn.experiment.estimate import estimate_grid, format_estimate
from synthmphn.experiment.spec import check_cells, paired_groups, select_variants
from synthmphn.report.aggregate import aggregate_note, aggregate_score
from synthmphn.report.experiment import Claim, claim_rows, claims_table
from synthmphn.report.markdown import table_markdown

T_975_2 = 4.302652729911275  # Student t quantile 0.975 with 2 degrees of freedom


def _table(a: list[float], b: list[float], metric: str = "aggregate") -> dict:
    return {
        "a": {s: {metric: v} for s, v in enumerate(a)},
        "b": {s: {metric: v} for s, v in enumerate(b)},
    }


def test_paired_differences_held_reversed_and_not_separable_by_hand():
    # d = a − b = (0.10, 0.12, 0.14): mean 0.12, s_d 0.02 -> half-width t · 0.02 / √3
    held = _table([0.60, 0.52, 0.44], [0.50, 0.40, 0.30])
    [row] = claim_rows(held, [Claim("a beats b", "a", "b")])
    half = T_975_2 * 0.02 / math.sqrt(3)
    assert row["difference"] == pytest.approx(0.12)
    assert (row["low"], row["high"]) == (pytest.approx(0.12 - half), pytest.approx(0.12 + half))
    assert row["verdict"] == "held" and row["n"] == 3
    [row] = claim_rows(held, [Claim("b beats a", "b", "a")])
    assert row["verdict"] == "reversed" and row["difference"] == pytest.approx(-0.12)
    # d = (0.1, 0.2, 0.3): mean 0.2, s_d 0.1 -> [0.2 − 0.248, 0.2 + 0.248] contains 0
    noisy = _table([0.6, 0.7, 0.8], [0.5, 0.5, 0.5])
    [row] = claim_rows(noisy, [Claim("a beats b", "a", "b")])
    assert row["verdict"] == "not separable"
    assert row["low"] == pytest.approx(0.2 - T_975_2 * 0.1 / math.sqrt(3))
    md = table_markdown(claims_table([row]))
    assert "| a beats b | aggregate | a | b | 3 | +0.200 | [-0.048, +0.448] | not separable |" in md


def test_lower_is_better_metric_counts_a_lower_value_as_better():
    # uniformity is lower-is-better: a below b on every seed holds "a beats b"
    table = _table([-2.0, -2.2, -2.1], [-1.0, -1.1, -1.05], "diagnostics/uniformity_image")
    [row] = claim_rows(table, [Claim("a spreads more", "a", "b", "diagnostics/uniformity_image")])
    assert row["verdict"] == "held" and row["difference"] == pytest.approx(1.05)


def test_one_seed_has_no_interval_and_is_not_separable():
    [row] = claim_rows(_table([0.9], [0.1]), [Claim("a beats b", "a", "b")])
    assert row["verdict"] == "not separable" and row["low"] is None
    assert "none (< 2 seeds)" in table_markdown(claims_table([row]))


def test_bootstrap_interval_on_constant_differences_is_the_point():
    [row] = claim_rows(_table([0.6, 0.7, 0.8], [0.5, 0.6, 0.7]), [Claim("c", "a", "b")], method="bootstrap")
    assert (row["low"], row["high"], row["verdict"]) == (pytest.approx(0.1), pytest.approx(0.1), "held")


TOY_RUN = {
    "zeroshot/digits/acc1": 0.28,  # chance 1/10: (0.28 − 0.1) / 0.9 = 0.2
    "zeroshot/digits/n_classes": 10.0,
    "retrieval/i2t_r1": 0.6,  # chance 1/5: (0.6 − 0.2) / 0.8 = 0.5
    "retrieval/t2i_r1": 0.2,  # chance 1/5: 0
    "retrieval/n_texts": 5.0,
    "compositional/text_acc": 0.8,  # chance 0.5: 0.6
    "retrieval/i2t_r10": 1.0,  # not a term
}


def test_aggregate_by_hand():
    assert aggregate_score(TOY_RUN) == pytest.approx((0.2 + 0.5 + 0.0 + 0.6) / 4)
    assert aggregate_score({"retrieval/i2t_r10": 1.0}) is None
    # a term without its chance count (n_classes) is left out rather than guessed
    assert aggregate_score({"zeroshot/digits/acc1": 0.5, "compositional/text_acc": 0.75}) == pytest.approx(
        0.5
    )
    note = aggregate_note([TOY_RUN, {**TOY_RUN, "retrieval/n_texts": 8.0}])
    assert "zeroshot/digits/acc1 (chance 1/n_classes = 0.1, reference 1)" in note
    assert "retrieval/i2t_r1 (chance 1/n_texts = 0.125–0.2, reference 1)" in note
    assert "linear_probe" not in note  # not measured: not listed


def _spec(folder: Path, base: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "base.yaml").write_text(base)
    spec = folder / "grid.yaml"
    spec.write_text(f"name: tiny\nbase: base.yaml\noutput: {folder / 'out'}\n{body}")
    return spec


VARIANTS = "variants:\n  mp: [train.loss=mpclip]\n  hn: [train.loss=hn-nce]\n"


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ("[{name: x, better: mp, worse: nope}]", "claims[0].worse: 'nope' is not a variant; known: mp, hn"),
        (
            "[{name: x, better: mp, worse: hn}, {name: y, better: typo, worse: hn}]",
            "claims[1].better: 'typo'",
        ),
        ("[{name: x, better: mp, worse: mp}]", "claims[0]: better and worse are both 'mp'"),
    ],
)
def test_claims_naming_unknown_variants_are_one_line_errors(tmp_path: Path, claims: str, message: str):
    spec = _spec(tmp_path, "{}\n", VARIANTS + f"claims: {claims}\n")
    with pytest.raises(ValueError) as err:
        load_experiment(spec)
    assert str(err.value).startswith(f"{spec}: ") and message in str(err.value)
    assert "\n" not in str(err.value)


def test_stated_images_per_step_is_checked_for_every_cell(tmp_path: Path, tiny_grid_base: str):
    body = "images_per_step: 16\nvariants:\n  mp: [train.loss=mpclip]\n  big: [train.batch_size=12]\n"
    spec = _spec(tmp_path, tiny_grid_base, body)
    with pytest.raises(
        ValueError, match=r"variant 'big' \(seed 0\): images_per_step: the grid states 16, this cell takes 24"
    ):
        check_cells(load_experiment(spec), spec)


def test_paired_groups_split_where_the_batch_settings_differ(tmp_path: Path, tiny_grid_base: str):
    body = "seeds: [0, 1]\nvariants:\n  mp: [train.loss=mpclip]\n  hn: [train.loss=hn-nce]\n  b4: [train.batch_size=4]\n"
    spec = load_experiment(_spec(tmp_path, tiny_grid_base, body))
    runs, _ = plan_grid(spec)
    groups = paired_groups(spec, runs)
    assert groups["init"] == [["mp", "hn", "b4"]]
    assert groups["batches"] == [["mp", "hn"], ["b4"]]


def _weights(run_dir: Path) -> dict[str, torch.Tensor]:
    checkpoint = torch.load(run_dir / "train" / "checkpoints" / "last.pt", weights_only=True)
    return checkpoint["state_dict"]


def _batches(spec_path: Path, variant: str, seed: int) -> list[list[tuple]]:
    spec = load_experiment(spec_path)
    [run] = [r for r in plan_grid(spec)[0] if r.variant == variant and r.seed == seed]
    cfg = run_config(spec, variant, seed, list(run.overrides))
    groups = GroupStore(cfg.dataset_dir, "train").groups
    tc = cfg.train
    sampler = GroupBatchSampler(groups, tc.batch_size, tc.hn_schedule, tc.steps, cfg.seed)
    return [[(s.group, s.neg) for s in batch] for batch in sampler]


@pytest.mark.timeout(900)
def test_tiny_grid_pairs_init_and_batches_by_seed_and_writes_claims(tmp_path: Path, tiny_grid_base: str):
    # lr ≈ 0: the trained weights are the initial weights (to ~1e-12), so equal weights = equal init
    body = (
        "seeds: [0, 1]\noverrides: [train.lr=1e-12]\nimages_per_step: 16\n"
        + VARIANTS
        + "claims:\n  - {name: mpclip beats hn-nce, better: mp, worse: hn}\n"
    )
    spec = _spec(tmp_path, tiny_grid_base, body)
    assert "mp: 2 cell(s) × 3 steps, 16 images/step" in format_estimate(
        load_experiment(spec), estimate_grid(load_experiment(spec), seconds_per_step=2.0)
    )
    results = run_experiment(spec)
    out = tmp_path / "out"

    for seed in (0, 1):
        a, b = _weights(out / "mp" / f"seed{seed}"), _weights(out / "hn" / f"seed{seed}")
        assert all(torch.allclose(a[k], b[k], atol=1e-8) for k in a)
        assert _batches(spec, "mp", seed) == _batches(spec, "hn", seed)
    w0, w1 = _weights(out / "mp" / "seed0"), _weights(out / "mp" / "seed1")
    assert not all(torch.allclose(w0[k], w1[k]) for k in w0)  # the seed does change the init
    assert _batches(spec, "mp", 0) != _batches(spec, "mp", 1)

    text = results.read_text()
    assert "same initial weights: every variant; same batch order: every variant" in text
    assert "images per step: 16 (every variant)" in text
    assert "| aggregate |" in text and "`aggregate` = mean over tasks of (m − chance)" in text
    assert "| mpclip beats hn-nce | aggregate | mp | hn | 2 |" in text
    with (out / "claims.csv").open() as handle:
        [claim] = list(csv.DictReader(handle))
    # equal init, equal batches and no learning: both variants score the same, so the gap is 0
    assert float(claim["difference"]) == pytest.approx(0.0, abs=1e-6)
    assert claim["verdict"] == "not separable"
    assert "Claims (paired difference" in (out / "report.html").read_text()
    # a second estimate sees every cell finished
    assert estimate_grid(load_experiment(spec)).todo == []


def test_dry_run_prints_the_estimate_and_runs_nothing(tmp_path: Path, tiny_grid_base: str):
    spec = _spec(tmp_path, tiny_grid_base, "seeds: [0, 1]\n" + VARIANTS)
    result = CliRunner().invoke(app, ["experiment", str(spec), "--dry-run", "--seconds-per-step", "2.5"])
    assert result.exit_code == 0, result.output
    # 4 cells × 3 steps × 2.5 s = 30 s, no finished run to time the eval
    assert "experiment tiny: 4 cells, 4 to run, 1 job(s)" in result.output
    assert "estimated wall time: 0.5 min" in result.output
    assert not (tmp_path / "out").exists()


def test_select_variants_keeps_only_the_claims_between_them(tmp_path: Path):
    body = (
        VARIANTS
        + "  p0: [train.loss=p0]\nclaims:\n  - {name: x, better: mp, worse: hn}\n  - {name: y, better: p0, worse: hn}\n"
    )
    path = _spec(tmp_path, "{}\n", body)
    spec = select_variants(load_experiment(path), ["hn", "p0"], path)
    assert list(spec.variants) == ["hn", "p0"]
    assert [c.name for c in spec.claims] == ["y"]
    assert select_variants(load_experiment(path), None, path).variants.keys() == {"mp", "hn", "p0"}
    with pytest.raises(ValueError, match=r"--variants: 'typo' is not a variant; known: mp, hn, p0$"):
        select_variants(load_experiment(path), ["hn", "typo"], path)


def test_dry_run_of_chosen_variants_counts_only_their_cells(tmp_path: Path, tiny_grid_base: str):
    spec = _spec(tmp_path, tiny_grid_base, "seeds: [0, 1]\n" + VARIANTS)
    args = ["experiment", str(spec), "--dry-run", "--seconds-per-step", "2.5", "--variants", "hn"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "experiment tiny: 2 cells, 2 to run, 1 job(s)" in result.output
    bad = CliRunner().invoke(app, [*args[:-1], "hn,nope"])
    assert bad.exit_code != 0 and "--variants: 'nope' is not a variant" in bad.output
