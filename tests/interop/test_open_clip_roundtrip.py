"""open_clip round trip: `synthmphn export` -> plain open_clip_train -> `synthmphn eval` of its checkpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import torch

from synthmphn.data.pairs import iter_groups

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "SYNTHMPHN_QUIET": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "src")}


def cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """`synthmphn ARGS` in a fresh process."""
    cmd = [sys.executable, "-m", "synthmphn.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=timeout, cwd=REPO)


@pytest.fixture(scope="module")
def exported(interop_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export")
    done = cli("export", str(interop_dataset), "--out", str(out), "--model-name", "synth-tiny-vit")
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"model: local-dir:{out / 'model'}" in done.stdout
    return out


def test_export_writes_one_pair_per_image_with_its_own_caption(interop_dataset: Path, exported: Path) -> None:
    expected = {}
    for group, images in iter_groups(interop_dataset):
        for k, record in enumerate(group.images):
            expected[f"{group.id}_base_{k}"] = (group.caption, images[record.key])
        for k, record in enumerate(group.negatives[0].images):
            expected[f"{group.id}_neg0_{k}"] = (group.negatives[0].text, images[record.key])
    with tarfile.open(exported / "pairs" / "pairs-000000.tar") as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    got = {
        name[: -len(".txt")]: (data.decode(), members[name[:-4] + ".png"])
        for name, data in members.items()
        if name.endswith(".txt")
    }
    assert got == expected and len(got) == 8 * 4  # every base and negative image, caption = its own text
    assert json.loads((exported / "pairs" / "sizes.json").read_text()) == {"pairs-000000.tar": 32}
    config = json.loads((exported / "model" / "open_clip_config.json").read_text())
    assert config["model_cfg"]["vision_cfg"]["image_size"] == 32 and config["preprocess_cfg"]["size"] == [
        32,
        32,
    ]


def test_open_clip_train_trains_on_the_export_and_synthmphn_evaluates_its_checkpoint(
    interop_dataset: Path, exported: Path, tmp_path: Path
) -> None:
    model = f"local-dir:{exported / 'model'}"
    train = [
        sys.executable,
        "-m",
        "open_clip_train.main",
        "--train-data",
        str(exported / "pairs" / "pairs-{000000..000000}.tar"),
        "--dataset-type",
        "webdataset",
        "--model",
        model,
        "--batch-size",
        "16",
        "--epochs",
        "1",
        "--workers",
        "0",
        "--lr",
        "1e-3",
        "--warmup",
        "1",
        "--precision",
        "fp32",
        "--logs",
        str(tmp_path / "logs"),
        "--name",
        "roundtrip",
        "--log-every-n-steps",
        "1",
        "--seed",
        "0",
    ]  # no --train-num-samples: the trainer reads pairs/sizes.json
    done = subprocess.run(train, capture_output=True, text=True, env=ENV, timeout=600, cwd=tmp_path)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-3000:]
    assert "[32/32 (100%)]" in log and "KeyError" not in log  # 2 steps of 16 covered every exported image
    checkpoint = tmp_path / "logs" / "roundtrip" / "checkpoints" / "epoch_1.pt"
    assert checkpoint.is_file()

    done = cli(
        "eval",
        str(checkpoint),
        f"eval.model_name={model}",
        "--data",
        str(interop_dataset),
        "eval.tasks=[retrieval]",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "initialized randomly" not in done.stderr
    out = checkpoint.parent / "eval-epoch_1"
    assert done.stdout.strip() == f"metrics: {out / 'metrics.json'}"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model"] == model and metrics["checkpoint"] == str(checkpoint)
    assert 0.0 <= metrics["headline"]["retrieval/i2t_r1"] <= 1.0
    assert metrics["tasks"]["retrieval"]["metrics"]["n_images"] == 6

    # the evaluated weights are open_clip_train's, not the exported starting point's
    from synthmphn.models.checkpoint import model_from_checkpoint
    from synthmphn.models.factory import create_clip

    trained = torch.load(checkpoint, weights_only=True)["state_dict"]
    loaded = model_from_checkpoint(checkpoint, model_name=model).model.state_dict()
    start = create_clip(model).model.state_dict()
    assert all(
        torch.equal(loaded[k], trained[k.removeprefix("module.")] if k in trained else trained[k])
        for k in loaded
    )
    assert not torch.equal(loaded["text_projection"], start["text_projection"])
