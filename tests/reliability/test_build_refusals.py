"""Items 4, 5, 9, 19, 21: a build that cannot succeed says why in one line and leaves the folder as it was."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from faults import cli, fill_disk, no_space_line, one_line_error

from synthmphn.captions.base import CAPTION_BACKENDS
from synthmphn.captions.llm import LLMBackend, LLMRequest
from synthmphn.data import shards as shards_module
from synthmphn.data.manifest import Manifest

NEVER_VALID = "reliab-never-valid"
TINY = [
    "captions.n_groups=4",
    "captions.negatives_per_caption=1",
    "images.pool=[procedural:flat]",
    "images.strategy=single",
    "images.per_caption=1",
    "images.size=16",
    "images.heldout_style=null",
    "images.workers=1",
    "splits.heldout_groups=0",
    "splits.heldout_style_groups=0",
    "shards.groups_per_shard=2",
]


class NeverValid(LLMBackend):
    """An LLM that answers every request with text that is not the JSON it was asked for."""

    def complete(self, requests: list[LLMRequest]) -> list[str]:
        return ["Sure! Here is a caption for you." for _ in requests]


@pytest.fixture
def never_valid(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setitem(CAPTION_BACKENDS._items, NEVER_VALID, NeverValid)
    return NEVER_VALID


def build(out: Path, *overrides: str) -> Any:
    return cli("build", "configs/quickstart.yaml", f"output.dir={out}", *TINY, *overrides)


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def test_an_llm_that_never_yields_a_caption_fails_the_build_naming_the_rejections(
    never_valid: str, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    line = one_line_error(build(out, f"captions.backend={never_valid}", "captions.max_retries=0"))
    assert f"captions.backend='{never_valid}'" in line and "gave no valid caption for any of 4 groups" in line
    assert "invalid_json 12" in line and "group_dropped 4" in line  # 4 groups x 3 draws, all dropped
    assert files_under(out) == []  # item 21: the refusal leaves nothing behind


def test_a_diffusers_folder_that_is_not_a_pipeline_is_refused_before_any_file(tmp_path: Path) -> None:
    not_a_pipeline = tmp_path / "weights"
    not_a_pipeline.mkdir()
    (not_a_pipeline / "unet.bin").write_bytes(b"\0" * 64)
    out = tmp_path / "run"
    line = one_line_error(build(out, f"images.pool=[diffusers:{not_a_pipeline}]"))
    assert f"{not_a_pipeline / 'model_index.json'}: missing; 'diffusers:{not_a_pipeline}'" in line
    assert files_under(out) == []


def test_a_refused_build_leaves_an_existing_folder_as_it_was(tmp_path: Path) -> None:
    out = tmp_path / "run"
    (out / "notes").mkdir(parents=True)
    (out / "notes" / "mine.txt").write_text("the user's")
    before = files_under(out)
    one_line_error(build(out, "images.pool=[diffusers:/nonexistent/pipe]"))
    assert files_under(out) == before


def test_a_dataset_folder_without_shards_is_reused_by_a_corrected_build(tmp_path: Path) -> None:
    out = tmp_path / "run"
    dataset = out / "dataset"
    (dataset / "captions").mkdir(parents=True)  # what an earlier build that failed before any shard left
    (dataset / "build_config.json").write_text(json.dumps({"seed": 99, "images": {"size": 16}}))
    (dataset / "captions" / "train.jsonl").write_text("")
    (dataset / "classes.json").write_text("[]")
    result = build(out)
    assert result.exit_code == 0, result.output
    assert [e.path for e in Manifest.load(dataset).entries()] == ["train-000000.tar", "train-000001.tar"]
    assert json.loads((dataset / "build_config.json").read_text())["seed"] != 99


def test_a_dataset_folder_with_shards_of_another_config_is_still_refused(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert build(out).exit_code == 0
    result = build(out, "images.size=24")
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert "holds a dataset built with a different config" in result.stderr  # then one line per field
    assert "images.size" in result.stderr and "24" in result.stderr


def test_disk_full_during_build_names_the_shard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fill_disk(monkeypatch, shards_module)
    out = tmp_path / "run"
    line = one_line_error(build(out))
    shard = out / "dataset" / "train-000000.tar"
    assert line == no_space_line(shard)
    assert not list((out / "dataset").glob("*.tar")) and not list((out / "dataset").glob(".*.tmp"))


class OutOfMemory:
    """A generator that crashes on its first batch (what images.size=100000 did before it was bounded)."""

    def __init__(self, arg: str, size: int, config: Any) -> None:
        self.name = f"reliab-oom:{arg}"

    def generate(self, prompts: Any, specs: Any, seeds: Any) -> list[Any]:
        raise MemoryError("cannot allocate 30 GiB")


def test_a_crash_before_the_first_shard_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from synthmphn.images.base import GENERATORS

    monkeypatch.setitem(GENERATORS._items, "reliab-oom", OutOfMemory)
    out = tmp_path / "run"
    result = build(out, "images.pool=[reliab-oom:x]")
    assert result.exit_code != 0 and isinstance(result.exception, MemoryError)
    assert files_under(out) == []  # no build_config.json, captions/, classes.json or config.yaml left
