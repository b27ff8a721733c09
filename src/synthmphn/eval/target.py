"""What `synthmphn eval TARGET` evaluates, and where it writes: a run folder, a checkpoint file, or a model.

    RUN                  a run folder (RUN/config.yaml): its last checkpoint, metrics in RUN/eval
    FILE.pt              any checkpoint: ours, or open_clip_train's epoch_N.pt (then eval.model_name=ARCH,
                         e.g. local-dir:FOLDER); metrics in FILE's folder, eval-<stem>/
    local-dir:FOLDER     an open_clip model folder (`synthmphn export`) with its weights; metrics in FOLDER/eval
    FOLDER               the same when FOLDER holds open_clip_config.json
    NAME                 an open_clip architecture name (random or tag weights); metrics in ./eval-NAME

`out` (the CLI's --out) sends metrics elsewhere. A run's own metrics.json is never replaced by an
evaluation with overrides (one extra SugarCrepe file, fewer tasks) unless `overwrite` is set or `out` is
given: re-evaluating a run as configured (no overrides) replaces them, which is what rerunning asks for.
"""

from __future__ import annotations

from pathlib import Path

from synthmphn.config import RunConfig, load_config
from synthmphn.models.factory import check_model_name

LOCAL_DIR = "local-dir:"
MODEL_DIR_CONFIG = "open_clip_config.json"


def eval_config(
    target: str,
    overrides: list[str] | None = None,
    out: Path | None = None,
    data: Path | None = None,
    overwrite: bool = False,
) -> RunConfig:
    """The RunConfig that evaluates `target` (see module docstring); `data` is the dataset folder."""
    extra = list(overrides or [])
    if data is not None:
        extra.append(f"train.data={Path(data).resolve()}")
    path = Path(target)
    if not target.startswith(LOCAL_DIR) and (path / "config.yaml").is_file():
        return _run_target(path, extra, out, overwrite, has_overrides=bool(overrides))
    if not target.startswith(LOCAL_DIR) and path.is_file():
        default_out = path.resolve().parent / f"eval-{path.stem}"
        extra.append(f"eval.checkpoint={path.resolve()}")
        return _standalone(extra, out or default_out)
    if target.startswith(LOCAL_DIR) or (path / MODEL_DIR_CONFIG).is_file():
        folder = Path(target.removeprefix(LOCAL_DIR)).resolve()
        if not (folder / MODEL_DIR_CONFIG).is_file():
            raise FileNotFoundError(f"{folder}: no {MODEL_DIR_CONFIG}; write one with `synthmphn export`")
        extra += [f"eval.model_name={LOCAL_DIR}{folder}", "eval.checkpoint=none"]
        return _standalone(extra, out or folder / "eval")
    if path.exists() or "/" in target:
        raise FileNotFoundError(
            f"{target}: not a run folder (no config.yaml), a checkpoint file or an open_clip model folder "
            f"({MODEL_DIR_CONFIG})"
        )
    check_model_name(target)
    extra += [f"eval.model_name={target}", "eval.checkpoint=none"]
    return _standalone(extra, out or Path(f"eval-{target}").resolve())


def _run_target(
    run_dir: Path, overrides: list[str], out: Path | None, overwrite: bool, has_overrides: bool
) -> RunConfig:
    """A run folder's config plus overrides; refuses to replace its metrics with a partial evaluation."""
    cfg = load_config(run_dir / "config.yaml", [*overrides, f"output.dir={run_dir}"])
    if out is not None:
        return cfg.model_copy(update={"eval": cfg.eval.model_copy(update={"out": Path(out).resolve()})})
    existing = cfg.eval_dir / "metrics.json"
    if has_overrides and existing.is_file() and not overwrite:
        raise FileExistsError(
            f"{existing}: the run's metrics exist and an evaluation with overrides would replace them; "
            "pass --out DIR to write elsewhere, or --overwrite to replace them"
        )
    return cfg


def _standalone(overrides: list[str], out: Path) -> RunConfig:
    """Default settings plus overrides, writing to `out` (the output folder of a run-less evaluation)."""
    out = Path(out).resolve()
    return load_config(None, [*overrides, f"output.dir={out.parent}", f"eval.out={out}"])
