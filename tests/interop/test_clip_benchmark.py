"""Our results in CLIP_benchmark's layout, and our numbers equal to clip_benchmark's own functions."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from interop_data import png
from PIL import Image
from sklearn.metrics import balanced_accuracy_score

from synthmphn.config import load_config
from synthmphn.data.pairs import iter_groups
from synthmphn.eval.clip_benchmark import retrieval_records, write_clip_benchmark_results, zeroshot_records
from synthmphn.eval.datasets import LabelledImages
from synthmphn.eval.runner import load_encoder, run_eval
from synthmphn.eval.zeroshot import evaluate_zeroshot
from synthmphn.models.checkpoint import model_from_checkpoint, save_checkpoint
from synthmphn.models.factory import create_clip

CLASSES = {
    "red": (220, 30, 30),
    "green": (30, 200, 30),
    "blue": (30, 30, 220),
    "yellow": (230, 220, 30),
    "purple": (140, 30, 160),
}


def test_layout_maps_our_names_to_clip_benchmarks(tmp_path: Path) -> None:
    tasks = {
        "zeroshot": {
            "metrics": {
                "digits/acc1": 0.5,
                "digits/acc5": 0.9,
                "digits/mean_per_class_recall": 0.4,
                "digits/n_images": 1797,
                "heldout/acc1": 0.25,
            }
        },
        "retrieval": {"metrics": {"i2t_r1": 0.1, "t2i_r1": 0.2, "n_images": 6, "heldout_style/i2t_r5": 0.3}},
    }
    assert zeroshot_records(tasks["zeroshot"]["metrics"]) == {
        "digits": {"acc1": 0.5, "acc5": 0.9, "mean_per_class_recall": 0.4},
        "heldout": {"acc1": 0.25},
    }
    assert retrieval_records(tasks["retrieval"]["metrics"]) == {
        "heldout": {"text_retrieval_recall@1": 0.1, "image_retrieval_recall@1": 0.2},
        "heldout_style": {"text_retrieval_recall@5": 0.3},
    }
    files = write_clip_benchmark_results(tmp_path, tasks, "local-dir:/x/model", "/runs/a/last.pt")
    names = sorted(p.name for p in files)
    assert names == [
        "digits_last_model_en_zeroshot_classification.json",
        "heldout_last_model_en_zeroshot_classification.json",
        "heldout_last_model_en_zeroshot_retrieval.json",
        "heldout_style_last_model_en_zeroshot_retrieval.json",
    ]
    doc = json.loads((tmp_path / "clip_benchmark" / names[0]).read_text())
    assert doc == {
        "dataset": "digits",
        "model": "local-dir:/x/model",
        "pretrained": "/runs/a/last.pt",
        "task": "zeroshot_classification",
        "language": "en",
        "metrics": {"acc1": 0.5, "acc5": 0.9, "mean_per_class_recall": 0.4},
    }


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(3)
    parts = create_clip("synth-tiny-vit")
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "model.pt", parts.model)


class _Labelled(torch.utils.data.Dataset):
    """The zero-shot set as clip_benchmark's loaders see it (it reads `dataset.classes`)."""

    def __init__(self, tensors: torch.Tensor, labels: np.ndarray, classes: list[str]) -> None:
        self.tensors, self.labels, self.classes = tensors, torch.as_tensor(labels), classes

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.tensors[i], self.labels[i]


def test_zeroshot_and_retrieval_equal_clip_benchmarks_functions(
    checkpoint: Path, interop_dataset: Path, tmp_path: Path
) -> None:
    cb_zeroshot = pytest.importorskip("clip_benchmark.metrics.zeroshot_classification")
    cb_retrieval = pytest.importorskip("clip_benchmark.metrics.zeroshot_retrieval")
    cfg = load_config(
        None,
        [
            f"output.dir={tmp_path}",
            f"train.data={interop_dataset}",
            f"eval.checkpoint={checkpoint}",
            "eval.tasks=[retrieval]",
        ],
    )
    parts = model_from_checkpoint(checkpoint)
    parts.model.eval()

    classnames = list(CLASSES)
    images = [Image.open(io.BytesIO(png(rgb, corner))) for rgb in CLASSES.values() for corner in range(4)]
    labels = np.repeat(np.arange(5), 4)
    templates = ["a photo of a {c} square.", "a {c} thing."]
    ours, _ = evaluate_zeroshot(
        load_encoder(cfg, checkpoint), LabelledImages("t", images, labels, classnames, templates)
    )
    tensors = torch.stack([parts.preprocess_val(img.convert("RGB")) for img in images])
    loader = torch.utils.data.DataLoader(_Labelled(tensors, labels, classnames), batch_size=len(labels))
    # clip_benchmark 1.6.2's evaluate() dies in its accuracy() on numpy 2 (float() of a 1-element array), so
    # its classifier and logits functions are used and its accuracy/balanced-recall formulas applied here.
    classifier = cb_zeroshot.zero_shot_classifier(
        parts.model, parts.tokenizer, classnames, templates, "cpu", False
    )
    logits, target = cb_zeroshot.run_classification(parts.model, classifier, loader, "cpu", amp=False)
    top5 = logits.topk(5, dim=1).indices
    theirs = {
        "acc1": (top5[:, 0] == target).float().mean().item(),
        "acc5": (top5 == target[:, None]).any(dim=1).float().mean().item(),
        "mean_per_class_recall": balanced_accuracy_score(target, logits.argmax(dim=1)),
    }
    for key in ("acc1", "acc5", "mean_per_class_recall"):
        assert ours[key] == pytest.approx(theirs[key], abs=1e-6), key

    run_eval(cfg)
    doc = json.loads(
        next((tmp_path / "eval" / "clip_benchmark").glob("heldout_*_retrieval.json")).read_text()
    )
    groups = [(group, img) for group, img in iter_groups(interop_dataset, "heldout")]
    batch = torch.stack(
        [
            parts.preprocess_val(Image.open(io.BytesIO(img[g.images[0].key])).convert("RGB"))
            for g, img in groups
        ]
    )
    texts = [[g.caption] for g, _ in groups]
    theirs = cb_retrieval.evaluate(
        parts.model, [(batch, texts)], parts.tokenizer, "cpu", amp=False, recall_k_list=[1, 5]
    )
    assert set(theirs) <= set(doc["metrics"])
    for key, value in theirs.items():
        assert doc["metrics"][key] == pytest.approx(value, abs=1e-6), key
