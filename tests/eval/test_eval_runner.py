"""run_eval: every task's results in metrics.json, a failing task recorded while the rest run, real checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eval_fakes import World, caption_encoder, make_dataset

import synthmphn.eval  # noqa: F401 - registers every task
from synthmphn.config import RunConfig
from synthmphn.eval.base import EVAL_TASKS
from synthmphn.eval.runner import HEADLINE, run_eval
from synthmphn.report.html import write_report

ALL_TASKS = ["zeroshot", "retrieval", "compositional", "linear_probe", "diagnostics", "generators"]


@pytest.fixture
def run_dir(tmp_path: Path, world: World) -> Path:
    (tmp_path / "run" / "dataset").mkdir(parents=True)
    make_dataset(tmp_path / "run" / "dataset", world)
    return tmp_path / "run"


def test_every_registered_task_is_in_the_default_config() -> None:
    assert sorted(RunConfig().eval.tasks) == EVAL_TASKS.names() == sorted(ALL_TASKS)


def test_failing_task_is_recorded_and_the_rest_run(
    run_dir: Path, world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def boom(*args: object) -> None:
        raise RuntimeError("the model exploded")

    monkeypatch.setitem(EVAL_TASKS._items, "boom", boom)
    cfg = RunConfig.model_validate(
        {
            "output": {"dir": str(run_dir)},
            # a tiny open_clip reference keeps the generators task from training the embedded one here
            "eval": {
                "tasks": ["boom", *ALL_TASKS],
                "tsne_points": 30,
                "reference_model": "synth-tiny-cnn-32",
            },
        }
    )
    path = run_eval(cfg, encoder=caption_encoder(world))
    assert path == run_dir / "eval" / "metrics.json"
    metrics = json.loads(path.read_text())
    assert metrics["tasks"]["boom"]["error"] == "RuntimeError: the model exploded"
    assert metrics["errors"] == {"boom": ["RuntimeError: the model exploded"]}
    assert "eval: boom: RuntimeError: the model exploded" in capsys.readouterr().err
    assert set(metrics["tasks"]) == {"boom", *ALL_TASKS}
    headline = metrics["headline"]
    assert set(headline) <= set(HEADLINE)
    assert headline["retrieval/i2t_r1"] == 1.0 and headline["compositional/text_acc"] == 1.0
    assert "zeroshot/digits/acc1" in headline and "linear_probe/digits_acc" in headline
    assert metrics["tasks"]["diagnostics"]["plots"] == {"tsne_digits": "tsne_digits.png"}
    assert (run_dir / "eval" / "tsne_digits.png").is_file() and (
        run_dir / "eval" / "generators.png"
    ).is_file()
    assert (run_dir / "eval" / "run_info.json").is_file()
    page = write_report([run_dir]).read_text()  # the report reads what eval wrote
    assert "compositional/text_acc" in page and "RuntimeError: the model exploded" in page


def test_unknown_task_lists_known(run_dir: Path, world: World) -> None:
    cfg = RunConfig.model_validate({"output": {"dir": str(run_dir)}, "eval": {"tasks": ["zeroshot", "nope"]}})
    with pytest.raises(KeyError, match="unknown eval task 'nope'; known: compositional, diagnostics"):
        run_eval(cfg, encoder=caption_encoder(world))


def test_unknown_probe_set_fails_before_any_task_runs(run_dir: Path, world: World) -> None:
    cfg = RunConfig.model_validate(
        {"output": {"dir": str(run_dir)}, "eval": {"tasks": ["zeroshot"], "probe_sets": ["digts"]}}
    )
    with pytest.raises(ValueError, match=r"eval.probe_sets: unknown set\(s\) \['digts'\]"):
        run_eval(cfg, encoder=caption_encoder(world))
    assert not (run_dir / "eval" / "metrics.json").exists()


def test_missing_checkpoint_names_the_path(run_dir: Path) -> None:
    cfg = RunConfig.model_validate({"output": {"dir": str(run_dir)}})
    with pytest.raises(FileNotFoundError, match=r"checkpoints/last\.pt: checkpoint not found"):
        run_eval(cfg)


def test_real_tiny_checkpoint(run_dir: Path) -> None:
    from synthmphn.models.checkpoint import save_checkpoint
    from synthmphn.models.factory import create_clip

    save_checkpoint(run_dir / "train" / "checkpoints" / "last.pt", create_clip("synth-tiny-vit").model)
    cfg = RunConfig.model_validate(
        {"output": {"dir": str(run_dir)}, "eval": {"tasks": ["retrieval", "compositional"]}}
    )
    metrics = json.loads(run_eval(cfg).read_text())
    assert metrics["errors"] == {}
    assert metrics["checkpoint"].endswith("last.pt")
    assert 0.0 <= metrics["headline"]["retrieval/t2i_r1"] <= 1.0
    assert 0.0 <= metrics["headline"]["compositional/image_acc"] <= 1.0


def test_a_split_the_dataset_lacks_is_skipped_while_a_broken_source_is_an_error():
    from synthmphn.data.store import SplitNotInDataset
    from synthmphn.eval.base import TaskResult, recording_errors

    result = TaskResult()
    with recording_errors(result, "heldout_style"):
        raise SplitNotInDataset("the manifest lists no shard for split 'heldout_style'")
    with recording_errors(result, "heldout"):
        raise ValueError("shard heldout-000000.tar: sha256 mismatch")
    assert result.skipped == ["heldout_style: the manifest lists no shard for split 'heldout_style'"]
    assert result.errors == ["heldout: shard heldout-000000.tar: sha256 mismatch"]
