"""`synthmphn eval TARGET`: run folders, checkpoint files, model folders and names; metrics never replaced
unasked; no misleading random-init warning when a checkpoint's weights load next."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml

from synthmphn.config import config_to_dict, load_config
from synthmphn.eval.target import eval_config
from synthmphn.models.checkpoint import model_from_checkpoint, save_checkpoint
from synthmphn.models.export import write_model_dir
from synthmphn.models.factory import create_clip


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    cfg = load_config(None, [f"output.dir={run}"])
    (run / "eval").mkdir(parents=True)
    (run / "config.yaml").write_text(yaml.safe_dump(config_to_dict(cfg)))
    return run


def test_a_partial_evaluation_never_replaces_a_runs_metrics_unasked(run_dir: Path, tmp_path: Path) -> None:
    assert eval_config(str(run_dir), ["eval.tasks=[retrieval]"]).eval_dir == run_dir / "eval"  # none yet
    (run_dir / "eval" / "metrics.json").write_text("{}")
    with pytest.raises(
        FileExistsError, match=r"run/eval/metrics\.json: the run's metrics exist .* --out DIR"
    ):
        eval_config(str(run_dir), ["eval.tasks=[retrieval]"])
    assert (
        eval_config(str(run_dir), ["eval.tasks=[retrieval]"], out=tmp_path / "x").eval_dir == tmp_path / "x"
    )
    assert eval_config(str(run_dir), ["eval.tasks=[retrieval]"], overwrite=True).eval.tasks == ["retrieval"]
    assert eval_config(str(run_dir)).eval_dir == run_dir / "eval"  # re-evaluating as configured


def test_checkpoint_files_model_folders_and_names(tmp_path: Path) -> None:
    ckpt = tmp_path / "logs" / "epoch_1.pt"
    ckpt.parent.mkdir()
    ckpt.write_bytes(b"")
    cfg = eval_config(str(ckpt), ["eval.model_name=synth-tiny-vit"], data=tmp_path / "ds")
    assert (cfg.eval.checkpoint, cfg.eval.model_name) == (str(ckpt), "synth-tiny-vit")
    assert cfg.eval_dir == tmp_path / "logs" / "eval-epoch_1" and cfg.dataset_dir == tmp_path / "ds"

    folder = write_model_dir(create_clip("synth-tiny-vit"), tmp_path / "model")
    for target in (str(folder), f"local-dir:{folder}"):
        cfg = eval_config(target)
        assert (cfg.eval.checkpoint, cfg.eval.model_name) == ("none", f"local-dir:{folder}")
        assert cfg.eval_dir == folder / "eval"
    with pytest.raises(FileNotFoundError, match=r"empty: no open_clip_config\.json"):
        eval_config(f"local-dir:{tmp_path / 'empty'}")
    with pytest.raises(
        FileNotFoundError, match="not a run folder .*, a checkpoint file or an open_clip model"
    ):
        eval_config(str(tmp_path / "missing" / "run"))
    assert eval_config("synth-tiny-cnn-32").eval_dir == Path("eval-synth-tiny-cnn-32").resolve()
    with pytest.raises(ValueError, match="unknown model 'no-such-model'"):
        eval_config("no-such-model")


def test_loading_a_checkpoint_does_not_claim_random_weights(tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.WARNING)
    path = save_checkpoint(tmp_path / "m.pt", create_clip("synth-tiny-vit").model)
    assert "initialized randomly" in caplog.text  # true here: a fresh model
    caplog.clear()
    model_from_checkpoint(path)
    assert "initialized randomly" not in caplog.text
    assert logging.getLogger().filters == []  # the filter is gone once the model is built
