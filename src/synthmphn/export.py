"""`synthmphn export SOURCE --out DIR`: what open_clip's own tools need, with no wrapper code.

    DIR/pairs/pairs-NNNNNN.tar + sizes.json + pairs.json   one WebDataset sample per image (base images with
                                                            the caption, negative images with theirs)
    DIR/model/open_clip_config.json + open_clip_model.safetensors   `local-dir:DIR/model` for open_clip

SOURCE is a run folder (its dataset, and its last checkpoint when there is one) or a dataset folder. The
model folder is written from `checkpoint` (default: the run's last), or from `model_name`'s fresh weights
when there is no checkpoint (a starting point for open_clip_train with one of our tiny architectures).
"""

from __future__ import annotations

from pathlib import Path

from synthmphn.config import load_config
from synthmphn.data.manifest import MANIFEST_NAME
from synthmphn.data.pairs import export_pairs
from synthmphn.models.export import export_model


def export_sources(source: Path, checkpoint: Path | None) -> tuple[Path, Path | None]:
    """(dataset folder, checkpoint or None) of `source`, a run folder or a dataset folder."""
    source = Path(source)
    if (source / "config.yaml").is_file():
        cfg = load_config(source / "config.yaml", [f"output.dir={source}"])
        last = cfg.train_dir / "checkpoints" / "last.pt"
        return cfg.dataset_dir, checkpoint or (last if last.is_file() else None)
    if (source / MANIFEST_NAME).is_file():
        return source, checkpoint
    raise FileNotFoundError(
        f"{source}: neither a run folder (config.yaml) nor a dataset folder ({MANIFEST_NAME})"
    )


def run_export(
    source: Path,
    out: Path,
    split: str = "train",
    include_negatives: bool = False,
    checkpoint: Path | None = None,
    model_name: str | None = None,
) -> list[str]:
    """Writes DIR/pairs (and DIR/model when there is a checkpoint or a model name); returns what to tell."""
    out = Path(out).resolve()
    dataset, checkpoint = export_sources(source, checkpoint)
    pairs = export_pairs(dataset, out / "pairs", split=split, include_negatives=include_negatives)
    lines = [f"pairs: {pairs.url} ({pairs.n_samples} samples, sizes.json beside them)"]
    model_arg = ""
    if checkpoint is not None or model_name is not None:
        folder = export_model(checkpoint, out / "model", model_name=model_name)
        lines.append(f"model: local-dir:{folder}")
        model_arg = f" --model local-dir:{folder}"
    lines.append(
        f"open_clip_train: python -m open_clip_train.main --train-data '{pairs.url}' --dataset-type webdataset"
        f"{model_arg} --batch-size 64 --epochs 1 --workers 1"
    )
    return lines
