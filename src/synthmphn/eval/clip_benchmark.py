"""Our zero-shot and retrieval results in CLIP_benchmark's JSON layout, so its users' scripts read them.

CLIP_benchmark (`clip_benchmark eval ... --output '{dataset}_{pretrained}_{model}_{language}_{task}.json'`)
writes one file per (dataset, model, task):

    {"dataset": "cifar10", "model": "ViT-B-32", "pretrained": "openai", "task": "zeroshot_classification",
     "metrics": {"acc1": ..., "acc5": ..., "mean_per_class_recall": ...}, "language": "en"}

`write_clip_benchmark_results` writes the same next to metrics.json, in `clip_benchmark/`, one file per
zero-shot set (`digits`, `heldout`, `heldout_style`, user sets) and per retrieval split. Names map
exactly: their `image_retrieval_recall@k` (a text query finds its image) is our `t2i_r{k}`, their
`text_retrieval_recall@k` (an image query finds its caption) our `i2t_r{k}`. Our numbers equal theirs on
the same features when each caption has one image (tests/eval/test_eval_clip_benchmark.py checks it with
clip_benchmark's own functions); with several images per caption ours count any of them as the hit.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from synthmphn.io import atomic_write_json

FOLDER = "clip_benchmark"
ZEROSHOT_METRICS = ("acc1", "acc5", "mean_per_class_recall")
RETRIEVAL_SPLITS = ("heldout", "heldout_style")


def _safe(text: str) -> str:
    """A file-name-safe form of a model or checkpoint name (`local-dir:/a/b` -> `local-dir_a_b`)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "none"


def zeroshot_records(metrics: dict[str, float]) -> dict[str, dict[str, float]]:
    """{set name: CLIP_benchmark zero-shot metrics} from our `zeroshot` task's `<set>/<metric>` numbers."""
    out: dict[str, dict[str, float]] = {}
    for key, value in metrics.items():
        name, _, metric = key.rpartition("/")
        if name and metric in ZEROSHOT_METRICS:
            out.setdefault(name, {})[metric] = value
    return out


def retrieval_records(metrics: dict[str, float]) -> dict[str, dict[str, float]]:
    """{split: CLIP_benchmark retrieval metrics} from our `retrieval` task (`i2t_r1`, `heldout_style/t2i_r5`)."""
    out: dict[str, dict[str, float]] = {}
    for key, value in metrics.items():
        split, _, metric = key.rpartition("/")
        found = re.fullmatch(r"(i2t|t2i)_r(\d+)", metric)
        if found is None:
            continue
        theirs = "image" if found.group(1) == "t2i" else "text"
        out.setdefault(split or RETRIEVAL_SPLITS[0], {})[f"{theirs}_retrieval_recall@{found.group(2)}"] = (
            value
        )
    return out


def write_clip_benchmark_results(
    out_dir: Path, tasks: dict[str, dict[str, Any]], model: str, pretrained: str
) -> list[Path]:
    """Writes `out_dir/clip_benchmark/{dataset}_{pretrained}_{model}_en_{task}.json`; returns the files."""
    records = [
        ("zeroshot_classification", name, values)
        for name, values in zeroshot_records(tasks.get("zeroshot", {}).get("metrics", {})).items()
    ] + [
        ("zeroshot_retrieval", name, values)
        for name, values in retrieval_records(tasks.get("retrieval", {}).get("metrics", {})).items()
    ]
    written = []
    for task, dataset, values in records:
        tag = _safe(Path(pretrained).stem if "/" in pretrained else pretrained)
        path = out_dir / FOLDER / f"{_safe(dataset)}_{tag}_{_safe(Path(model).name)}_en_{task}.json"
        document = {
            "dataset": dataset,
            "model": model,
            "pretrained": pretrained,
            "task": task,
            "metrics": values,
            "language": "en",
        }
        atomic_write_json(path, document)
        written.append(path)
    return written
