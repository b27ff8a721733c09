"""What every run writes next to its outputs: resolved config, package versions, git commit and seed."""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
from pathlib import Path
from typing import Any

import yaml

from synthmphn.io import atomic_write_json, atomic_write_text

TRACKED_PACKAGES = (
    "synthmphn",
    "torch",
    "torchvision",
    "open_clip_torch",
    "webdataset",
    "diffusers",
    "transformers",
    "scikit-learn",
    "numpy",
    "pillow",
    "matplotlib",
    "pydantic",
)


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that decide results ('missing' when not installed)."""
    versions = {"python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "missing"
    return versions


def git_commit() -> str | None:
    """The commit of the source tree this package runs from, or None outside a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def write_config(out_dir: Path, config: dict[str, Any]) -> None:
    """Writes the resolved `config.yaml` into `out_dir` (created if missing), atomically."""
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "config.yaml", yaml.safe_dump(config, sort_keys=False))


def write_run_info(out_dir: Path, config: dict[str, Any], seed: int, stage: str) -> None:
    """Writes `config.yaml` (resolved) and `run_info.json` (stage, seed, versions, commit) into `out_dir`."""
    write_config(out_dir, config)
    atomic_write_json(
        out_dir / "run_info.json",
        {
            "stage": stage,
            "seed": seed,
            "versions": package_versions(),
            "git_commit": git_commit(),
            "platform": platform.platform(),
        },
    )
