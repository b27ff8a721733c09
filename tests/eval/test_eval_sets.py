"""Eval-set scopes: which set each number was measured on, and whether a grid's variants share it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from synthmphn.config import EvalConfig, UserDatasetConfig
from synthmphn.data.manifest import Manifest, ShardEntry
from synthmphn.eval.runner import headline_scopes
from synthmphn.eval.sets import eval_sets, metric_set, split_fingerprint

SETS = ["digits", "mnist", "fashion_mnist", "heldout", "heldout_style", "my_set", "sugarcrepe"]


def _dataset(folder: Path, heldout_sha: str, render: dict | None) -> Path:
    """A dataset folder with a hand-written manifest (two heldout shards, one style shard) and summary."""
    folder.mkdir(parents=True)
    manifest = Manifest(folder)
    for split, index, sha in (
        ("heldout", 1, "b" * 64),
        ("heldout", 0, heldout_sha),
        ("heldout_style", 0, "c" * 64),
    ):
        manifest.add(
            ShardEntry(
                path=f"{split}-{index:06d}.tar", split=split, index=index, n_groups=2, n_images=4, sha256=sha
            )
        )
    manifest.save()
    summary = {"splits": {}} if render is None else {"splits": {}, "heldout_render": render}
    (folder / "build_summary.json").write_text(json.dumps(summary))
    return folder


def test_metric_set_names_the_set_of_every_task_metric():
    cases = {
        "zeroshot/digits/acc1": "digits",
        "zeroshot/heldout_style/n_classes": "heldout_style",
        "zeroshot/my_set/acc5": "my_set",
        "linear_probe/fashion_mnist_acc": "fashion_mnist",
        "linear_probe/heldout_style_C": "heldout_style",  # the longest set name that prefixes it
        "linear_probe/heldout_acc": "heldout",
        "retrieval/i2t_r1": "heldout",
        "retrieval/heldout_style/t2i_r5": "heldout_style",
        "compositional/text/colour": "heldout",
        "compositional/sugarcrepe/acc": "sugarcrepe",
        "diagnostics/alignment": "heldout",
        "generators/procedural:flat/recognizability": None,
        "aggregate": None,
        "zeroshot/unknown/acc1": None,
    }
    assert {m: metric_set(m, SETS) for m in cases} == cases


def test_fingerprint_hashes_the_split_shards_in_index_order(tmp_path: Path):
    folder = _dataset(tmp_path / "d", "a" * 64, None)
    expected = hashlib.sha256(f"0:{'a' * 64}\n1:{'b' * 64}\n".encode()).hexdigest()
    assert split_fingerprint(folder, "heldout") == expected
    assert split_fingerprint(folder, "train") is None  # no shards of that split
    assert split_fingerprint(tmp_path / "missing", "heldout") is None


def test_eval_sets_read_the_scope_from_the_build_summary(tmp_path: Path):
    render = {
        "heldout": {
            "pool": ["procedural:flat", "procedural:ink"],
            "strategy": "msm-all",
            "per_caption": 2,
            "scope": "shared",
        },
        "heldout_style": {
            "pool": ["procedural:mosaic"],
            "strategy": "single",
            "per_caption": 1,
            "scope": "shared",
        },
    }
    config = EvalConfig(
        datasets=[UserDatasetConfig(name="my_set", kind="csv", path=Path("x.csv"))],
        sugarcrepe=[Path("s.json")],
    )
    sets = eval_sets(_dataset(tmp_path / "new", "a" * 64, render), config)
    assert {name: entry["scope"] for name, entry in sets.items()} == dict.fromkeys(SETS, "shared")
    assert sets["heldout"]["pool"] == ["procedural:flat", "procedural:ink"]
    assert sets["heldout"]["fingerprint"] == split_fingerprint(tmp_path / "new", "heldout")

    old = eval_sets(
        _dataset(tmp_path / "old", "a" * 64, None), EvalConfig()
    )  # built before the reference pool
    assert old["heldout"]["scope"] == "in-domain" and old["heldout_style"]["scope"] == "shared"
    assert headline_scopes(
        {"zeroshot/heldout/acc1": 0.5, "retrieval/i2t_r1": 0.2, "zeroshot/digits/acc1": 0.3}, old
    ) == {
        "zeroshot/heldout/acc1": "in-domain",
        "retrieval/i2t_r1": "in-domain",
        "zeroshot/digits/acc1": "shared",
    }
