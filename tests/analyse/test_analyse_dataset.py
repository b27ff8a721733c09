"""`synthmphn analyse`: the generator map and the transfer ceiling on a tiny built dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from synthmphn.analyse.dataset import (
    POOL,
    AnalyseSettings,
    ceiling_rows,
    failure_rates,
    format_analysis,
    run_analysis,
)
from synthmphn.analyse.embedded import RenderSet, embedded_reference
from synthmphn.config import load_config
from synthmphn.data.records import CaptionSpec
from synthmphn.eval.classifier import TrainSettings
from synthmphn.eval.datasets import DatasetUnavailable, LabelledImages
from synthmphn.eval.groups import open_split
from synthmphn.images.procedural import create_procedural_generator

SUBJECTS = ("circle", "cross")
POOL_MEMBERS = ("procedural:ink", "procedural:ink?omission=1")
FAST = AnalyseSettings(map_images=200, budget=160, train=TrainSettings(epochs=15, batch_size=8, width=8))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from synthmphn.build import run_build

    out = tmp_path_factory.mktemp("analyse") / "run"
    cfg = load_config(
        Path(__file__).resolve().parents[2] / "configs" / "quickstart.yaml",
        [
            f"output.dir={out}", "captions.n_groups=60", "captions.negatives_per_caption=0",
            f"captions.subjects=[{', '.join(SUBJECTS)}]", f"images.pool=[{', '.join(repr(m) for m in POOL_MEMBERS)}]",
            "images.per_caption=2", "images.workers=1", "splits.heldout_groups=4",
            "splits.heldout_style_groups=4", "shards.groups_per_shard=30",
            "captions.attribute_rate=1.0",  # 60 distinct captions of 2 subjects (short ones would repeat)
        ],
    )  # fmt: skip
    return run_build(cfg)


def real_shapes() -> LabelledImages:
    """A stand-in 'real' set: faithful renders of the two subjects in another style and seeds."""
    specs = [CaptionSpec(subject=SUBJECTS[i % 2], category="shape") for i in range(60)]
    images = create_procedural_generator("flat", 32).generate([""] * 60, specs, list(range(1000, 1060)))
    return LabelledImages("shapes", images, np.arange(60) % 2, list(SUBJECTS), ["a {c}."])


def missing() -> LabelledImages:
    raise DatasetUnavailable("gone: not installed here")


def test_failure_rates_come_from_the_records(dataset: Path) -> None:
    rates = failure_rates(open_split(dataset, "train"))
    assert rates["procedural:ink"] == {"failure_rate": 0.0}
    assert rates["procedural:ink?omission=1"] == {"failure_rate": 1.0, "omission": 1.0}


def test_ceiling_per_generator_and_pool_at_equal_budget(dataset: Path) -> None:
    rows, notes = ceiling_rows(
        open_split(dataset, "train"), dataset, [("shapes", real_shapes), ("gone", missing)], FAST
    )
    assert notes == ["gone: not installed here"]
    by = {row["generator"]: row for row in rows}
    assert set(by) == {POOL, *POOL_MEMBERS}
    assert {row["n_train"] for row in rows} == {
        60
    }  # every generator drew 60 images; the pool is capped alike
    assert by["procedural:ink"]["accuracy"] >= 0.8  # faithful renders teach the subjects
    assert by["procedural:ink?omission=1"]["accuracy"] <= 0.7  # blank pages teach nothing


def test_run_analysis_writes_map_ceiling_and_plots(dataset: Path, tmp_path: Path) -> None:
    reference = embedded_reference(
        RenderSet(subjects=SUBJECTS, styles=("ink",), per_style=40, attribute_rate=0.0),
        TrainSettings(epochs=4, batch_size=16, width=8),
        cache=tmp_path / "cache",
    )
    result = run_analysis(dataset.parent, reference, tmp_path / "out", FAST, [("shapes", real_shapes)])
    rows = {row["generator"]: row for row in result["map"]}
    assert rows["procedural:ink"]["recognizability"] > rows["procedural:ink?omission=1"]["recognizability"]
    assert rows["procedural:ink?omission=1"]["failure_rate"] == 1.0
    for name in ("analyse.json", "analyse.png", "ceiling.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0
    text = format_analysis(result)
    assert "generator map" in text and "transfer ceiling" in text and "procedural:ink?omission=1" in text


def test_cli_analyse_names_a_folder_that_is_no_dataset(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from synthmphn.cli import app

    done = CliRunner().invoke(app, ["analyse", str(tmp_path)])
    assert done.exit_code == 1
    assert str(tmp_path) in done.output and "build" in done.output
