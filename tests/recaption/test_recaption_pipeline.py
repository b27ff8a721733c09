"""`run_recaption` end to end on a hand-made toy dataset: what changes, what does not, resume, errors."""

from __future__ import annotations

import io
import shutil
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import pytest
import torch
from PIL import Image
from recaption_toyworld import SUBJECTS, caption_of, write_toy_dataset

from synthmphn.config import RecaptionConfig, RunConfig
from synthmphn.data.manifest import Manifest
from synthmphn.data.records import Group
from synthmphn.data.shards import read_shard
from synthmphn.io import read_json
from synthmphn.recaption.base import CAPTIONERS
from synthmphn.recaption.clean_subset import select_clean_groups
from synthmphn.recaption.embedded import EmbeddedCaptioner
from synthmphn.recaption.pipeline import SUMMARY_NAME, run_recaption
from synthmphn.recaption.shards import consensus_caption

TRUTH: dict[bytes, tuple[str, str]] = {}  # image pixels -> (true subject, true caption), filled by `source`


def _truth(image: Image.Image) -> tuple[str, str]:
    return TRUTH[image.convert("RGB").tobytes()]


class OracleScorer:
    """Scores 0.95 when a caption names the image's true subject and 0.32 otherwise (see `_text`)."""

    def encode_images(self, images: Sequence[Image.Image]) -> torch.Tensor:
        rows = []
        for image in images:
            row = [0.0] * (len(SUBJECTS) + 1)
            row[SUBJECTS.index(_truth(image)[0])] = row[-1] = 1.0
            rows.append(row)
        return torch.tensor(rows)

    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        rows = []
        for text in texts:
            row = [1.0 if subject in text.split() else 0.0 for subject in SUBJECTS] + [0.5]
            rows.append(row)
        return torch.tensor(rows)


if "test-oracle" not in CAPTIONERS:

    @CAPTIONERS.register("test-oracle")
    class OracleCaptioner:
        """Writes each image's true caption (looked up by its pixels): a perfect pretrained captioner."""

        needs_fit: ClassVar[bool] = False

        def __init__(self, config: RecaptionConfig) -> None:
            self.config = config

        def fit(self, images: list[Image.Image], captions: list[str], seed: int) -> None: ...

        def caption(self, images: list[Image.Image]) -> list[str]:
            return [_truth(image)[1] for image in images]

        def save(self, directory: Path) -> None: ...

        def load(self, directory: Path) -> None: ...


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 train shards × 6 groups (ids t00000..t00011; t00002, t00005, ... misaligned) + 1 heldout shard."""
    root = write_toy_dataset(tmp_path_factory.mktemp("toy-src"))
    for entry in Manifest.load(root).entries():
        for group, images in read_shard(root / entry.path):
            said_right = caption_of(group.spec.subject, *_attributes(group))
            for record in group.images:
                with Image.open(io.BytesIO(images[record.key])) as image:
                    TRUTH[image.convert("RGB").tobytes()] = (group.spec.subject, said_right)
    return root


def _attributes(group: Group) -> tuple[str, str, str]:
    """(colour, position, background) of a toy group, read back from its caption's words."""
    words = group.caption.split()
    return words[1], words[5], words[-2]


def make_config(tmp: Path, **recaption: object) -> RunConfig:
    settings = {"epochs": 4, "batch_size": 8, "clean_groups": 4, "alpha": 1.2, "eval_groups": 2, **recaption}
    return RunConfig.model_validate({"seed": 3, "output": {"dir": str(tmp / "run")}, "recaption": settings})


@pytest.fixture(scope="module")
def embedded_run(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("embedded-run")
    return run_recaption(source, tmp / "out", make_config(tmp), scorer=OracleScorer())


def _samples(root: Path) -> dict[str, tuple]:
    out = {}
    for entry in Manifest.load(root).entries():
        for group, images in read_shard(root / entry.path):
            out[group.id] = (group, images)
    return out


def _shard_bytes(root: Path) -> dict[str, bytes]:
    return {e.path: (root / e.path).read_bytes() for e in Manifest.load(root).entries()}


def test_only_train_captions_change(source: Path, embedded_run: Path) -> None:
    before, after = _samples(source), _samples(embedded_run)
    assert before.keys() == after.keys()
    rows = {
        row["id"]: row
        for path in sorted((embedded_run / "recaption" / "decisions").glob("*.json"))
        for row in read_json(path)
    }
    changed = set()
    for group_id, (old, images) in before.items():
        new, new_images = after[group_id]
        assert new_images == images  # every image byte for byte, negatives' included
        assert new.model_dump(exclude={"caption"}) == old.model_dump(exclude={"caption"})
        if new.caption != old.caption:
            changed.add(group_id)
            assert rows[group_id]["decision"]["replaced"] and rows[group_id]["decision"]["new"] == new.caption
    assert not any(group_id.startswith("h") for group_id in changed)
    assert not changed & {"t00000", "t00001", "t00002", "t00003"}  # the clean subset keeps its captions
    summary = read_json(embedded_run / SUMMARY_NAME)
    assert summary["replaced"] == len(changed)
    assert summary["train_groups"] == 12 and summary["clean_groups"] == 4 and summary["candidates"] == 8
    assert summary["clean_selection"] == "first_by_id"
    assert sum(s["replaced"] for s in summary["per_shard"].values()) == len(changed)
    assert summary["misaligned"]["misaligned"] == 3  # t00005, t00008, t00011 (t00002 is clean)
    assert summary["captioner_fit"]["pairs"] == 8
    assert summary["captioner_heldout"]["groups"] == 2 and summary["captioner_heldout"]["images"] == 4


def test_txt_member_and_heldout_shard(source: Path, embedded_run: Path) -> None:
    assert (embedded_run / "heldout-000000.tar").read_bytes() == (source / "heldout-000000.tar").read_bytes()
    groups = {g.id: g for g, _ in read_shard(embedded_run / "train-000001.tar")}
    with tarfile.open(embedded_run / "train-000001.tar") as tar:
        for group_id, group in groups.items():
            assert tar.extractfile(f"{group_id}.txt").read().decode() == group.caption
    Manifest.load(embedded_run).verify()
    for name in ("config.yaml", "run_info.json", "classes.json", "recaption/captioner/captioner.pt"):
        assert (embedded_run / name).is_file(), name


def test_resume_redoes_a_deleted_shard_identically_without_refitting(
    embedded_run: Path, source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "out"
    shutil.copytree(embedded_run, copy)
    (copy / "train-000001.tar").unlink()
    (copy / "heldout-000000.tar").write_bytes(b"garbage")

    def no_refit(*args: object, **kwargs: object) -> None:
        raise AssertionError("a resumed run must reuse the saved captioner")

    monkeypatch.setattr(EmbeddedCaptioner, "fit", no_refit)
    run_recaption(source, copy, make_config(tmp_path), scorer=OracleScorer())
    assert _shard_bytes(copy) == _shard_bytes(embedded_run)
    assert (copy / "manifest.jsonl").read_bytes() == (embedded_run / "manifest.jsonl").read_bytes()


def test_a_fresh_run_gives_the_same_bytes(embedded_run: Path, source: Path, tmp_path: Path) -> None:
    again = run_recaption(source, tmp_path / "again", make_config(tmp_path), scorer=OracleScorer())
    assert _shard_bytes(again) == _shard_bytes(embedded_run)


def test_perfect_captioner_and_scorer_replace_exactly_the_misaligned(source: Path, tmp_path: Path) -> None:
    out = run_recaption(
        source, tmp_path / "out", make_config(tmp_path, captioner="test-oracle"), OracleScorer()
    )
    summary = read_json(out / SUMMARY_NAME)
    # 0.95 >= 1.2 * 0.32 replaces a wrong subject; 0.95 < 1.2 * 0.95 keeps a right one (rephrased or not)
    assert summary["replaced"] == 3
    assert summary["misaligned"] == {
        "misaligned": 3,
        "aligned": 5,
        "replaced": 3,
        "caught": 3,
        "missed": 0,
        "wrongly_replaced": 0,
        "kept_aligned": 5,
        "precision": 1.0,
        "recall": 1.0,
        "wrongly_replaced_share": 0.0,
    }
    # the oracle scorer: a right caption scores 1.5 / (√2 · √1.25) ≈ 0.949, a wrong one 0.5 / (√2 · √1.25)
    right, wrong = 1.5 / (2**0.5 * 1.25**0.5), 0.5 / (2**0.5 * 1.25**0.5)
    align = summary["alignment"]
    assert align["aligned"]["before"] == align["aligned"]["after"]
    assert align["aligned"]["after"]["mean"] == pytest.approx(right)
    assert align["misaligned"]["before"]["mean"] == pytest.approx(wrong)
    assert align["misaligned"]["after"]["mean"] == pytest.approx(right)
    assert align["misaligned"]["after"]["sd"] == pytest.approx(0.0, abs=1e-6)
    assert align["all"]["before"]["n"] == 8
    assert summary["captioner_fit"] is None
    assert summary["captioner_heldout"]["subject_accuracy"] == 1.0
    assert summary["filter_with_true_captions"] == {"misaligned": 3, "caught": 3, "recall": 1.0}
    for group, _ in read_shard(out / "train-000001.tar"):
        assert not group.misaligned or group.caption.split()[2] == group.spec.subject


def test_scorer_from_an_open_clip_checkpoint(source: Path, tmp_path: Path) -> None:
    from synthmphn.models.checkpoint import save_checkpoint
    from synthmphn.models.factory import create_clip

    torch.manual_seed(0)
    checkpoint = save_checkpoint(tmp_path / "scorer.pt", create_clip("synth-tiny-vit").model)
    cfg = make_config(tmp_path, captioner="test-oracle", scorer_checkpoint=str(checkpoint), eval_groups=0)
    out = run_recaption(source, tmp_path / "out", cfg)
    summary = read_json(out / SUMMARY_NAME)
    assert -1.0 <= summary["mean_old_score"] <= 1.0 and summary["captioner_heldout"] is None


def test_errors_name_the_problem(source: Path, embedded_run: Path, tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "nowhere" / "manifest.jsonl")):
        run_recaption(tmp_path / "nowhere", tmp_path / "out", cfg, scorer=OracleScorer())
    with pytest.raises(ValueError, match="other than its input"):
        run_recaption(source, source, cfg, scorer=OracleScorer())
    with pytest.raises(ValueError, match="alpha"):
        run_recaption(source, embedded_run, make_config(tmp_path, alpha=2.0), scorer=OracleScorer())
    with pytest.raises(ValueError, match="not written by `synthmphn recaption`"):
        run_recaption(embedded_run, source, cfg, scorer=OracleScorer())
    with pytest.raises(FileNotFoundError, match=r"run/train/checkpoints/last.pt"):
        run_recaption(source, tmp_path / "out", cfg)


def test_clean_selection_and_consensus() -> None:
    from recaption_toyworld import toy_group

    groups = [toy_group(i, "train")[0] for i in (3, 0, 2, 1)]
    assert select_clean_groups(groups, 2) == ({"t00000", "t00001"}, "first_by_id")
    assert consensus_caption(["b", "a", "a", "b", "c"]) == "b"  # tie: the earliest image's caption
    assert consensus_caption(["x", "y", "y"]) == "y"


def test_filter_alone_is_measured_apart_from_the_captioner(embedded_run: Path) -> None:
    """The embedded captioner (4 epochs on 4 groups) proposes few right subjects, but the oracle scorer would
    take every misaligned group's true caption: the summary tells the two bottlenecks apart."""
    summary = read_json(embedded_run / SUMMARY_NAME)
    assert summary["filter_with_true_captions"] == {"misaligned": 3, "caught": 3, "recall": 1.0}
    rows = [
        row for path in (embedded_run / "recaption" / "decisions").glob("*.json") for row in read_json(path)
    ]
    truth = {row["id"]: row["true_caption_decision"] for row in rows if "true_caption_decision" in row}
    assert sorted(truth) == ["t00005", "t00008", "t00011"]  # the misaligned candidates (t00002 is in S_h)
    for decision in truth.values():
        assert decision["new"].split()[2] in SUBJECTS and decision["new"] != decision["old"]
        assert decision["new_score"] > decision["old_score"]
