"""The build orchestrator: layout, resume to identical bytes (also after SIGKILL), workers, clear input errors.

Most tests use a tiny fake caption backend and fake generator registered below (unique names), so they test
the orchestration alone; the kill test and the end-to-end build use the real grammar + procedural parts.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest
import yaml
from PIL import Image

from synthmphn.build import BuildError, run_build
from synthmphn.build.plan import split_plans
from synthmphn.captions.base import CAPTION_BACKENDS, CaptionResult
from synthmphn.config import CaptionsConfig, ImagesConfig, RunConfig, validate_config
from synthmphn.data.manifest import Manifest
from synthmphn.data.records import CaptionDraft, CaptionSpec, NegativeCaption
from synthmphn.data.shards import read_shard
from synthmphn.data.store import GroupStore
from synthmphn.images.base import GENERATORS
from synthmphn.seeding import derive_seed

FAKE_BACKEND = "buildtest-fake-captions"
FAKE_KIND = "buildtestfake"
COLOURS = ("red", "green", "blue", "yellow", "purple", "orange")
SUBJECTS = ("circle", "square", "triangle", "star")
VENV_BIN = Path(sys.executable).parent


class FakeCaptions:
    """Captions 'a <colour> <subject>' with one colour-swap negative each (deterministic in seed and id)."""

    def __init__(self, config: CaptionsConfig) -> None:
        self.config = config

    def generate(self, n: int, seed: int, prefix: str = "g") -> CaptionResult:
        drafts = []
        for i in range(n):
            group_id = f"{prefix}{i:07d}"
            pick = derive_seed(seed, group_id)
            colour, subject = COLOURS[pick % 6], SUBJECTS[(pick // 6) % 4]
            other = COLOURS[(pick + 1 + (pick // 24) % 5) % 6]
            spec = CaptionSpec(subject=subject, category="shape", attributes={"colour": colour})
            negatives = [
                NegativeCaption(
                    text=f"a {other} {subject} {pick % 97}",
                    kind="attribute:colour",
                    spec=spec.with_change("attribute:colour", other),
                )
            ][: self.config.negatives_per_caption]
            drafts.append(
                CaptionDraft(
                    id=group_id, caption=f"a {colour} {subject} {pick % 97}", spec=spec, negatives=negatives
                )
            )
        return CaptionResult(drafts, Counter({"fake: too long": 1}))


class FakeGenerator:
    """Solid colour from (style, prompt, seed) with a few seeded pixels: deterministic, distinct per input."""

    def __init__(self, arg: str, size: int, config: ImagesConfig) -> None:
        if arg.startswith("/") and not Path(arg).exists():  # like a model-backed generator's path check
            raise FileNotFoundError(f"{arg}: model path not found")
        self.name = f"{FAKE_KIND}:{arg}"
        self.size = size

    def generate(
        self, prompts: Sequence[str], specs: Sequence[object], seeds: Sequence[int]
    ) -> list[Image.Image]:
        images = []
        for prompt, seed in zip(prompts, seeds, strict=True):
            value = derive_seed(self.name, prompt, seed)
            image = Image.new(
                "RGB", (self.size, self.size), (value % 256, (value >> 8) % 256, (value >> 16) % 256)
            )
            for k in range(4):
                image.putpixel(((value >> (3 * k)) % self.size, k), (255, 255, 255))
            images.append(image)
        return images


if FAKE_BACKEND not in CAPTION_BACKENDS:
    CAPTION_BACKENDS.register(FAKE_BACKEND)(FakeCaptions)
if FAKE_KIND not in GENERATORS:
    GENERATORS.register(FAKE_KIND)(FakeGenerator)


def fake_config(out: Path, **overrides: object) -> RunConfig:
    """A small build: 10 train + 4 heldout + 3 heldout_style groups, 2 fake styles, 4 groups per shard."""
    tree: dict = {
        "seed": 7,
        "output": {"dir": str(out)},
        "captions": {"backend": FAKE_BACKEND, "n_groups": 10, "negatives_per_caption": 1},
        "images": {
            "pool": [f"{FAKE_KIND}:a", f"{FAKE_KIND}:b"],
            "strategy": "msm-all",
            "per_caption": 2,
            "size": 16,
            "heldout_style": f"{FAKE_KIND}:c",
        },
        "shards": {"groups_per_shard": 4},
        "splits": {
            "heldout_groups": 4,
            "heldout_style_groups": 3,
            "reference_pool": [f"{FAKE_KIND}:a", f"{FAKE_KIND}:b"],
        },
    }
    for dotted, value in overrides.items():
        node = tree
        *parents, leaf = dotted.split("__")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return validate_config(tree)


def shard_hashes(dataset: Path) -> dict[str, str]:
    """sha256 of every shard file in a dataset folder."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(dataset.glob("*.tar"))}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One uninterrupted fake build that other tests compare against."""
    return run_build(fake_config(tmp_path_factory.mktemp("reference")))


# ----------------------------------------------------------------------------- layout


def test_layout_counts_and_metadata(reference: Path) -> None:
    names = sorted(p.name for p in reference.glob("*.tar"))
    assert names == [
        "heldout-000000.tar",
        "heldout_style-000000.tar",
        "train-000000.tar",
        "train-000001.tar",
        "train-000002.tar",
    ]
    manifest = Manifest.load(reference)
    assert manifest.verify() == 5
    assert [e.n_groups for e in manifest.entries("train")] == [4, 4, 2]
    for name in ("build_summary.json", "classes.json", "build_config.json", "config.yaml", "run_info.json"):
        assert (reference / name).is_file(), name
    run_config = yaml.safe_load((reference.parent / "config.yaml").read_text())
    assert RunConfig.model_validate(run_config).captions.backend == FAKE_BACKEND
    summary = yaml.safe_load((reference / "build_summary.json").read_text())
    assert summary["splits"] == {
        "train": {"groups": 10, "images": 40, "shards": 3},
        "heldout": {"groups": 4, "images": 16, "shards": 1},
        "heldout_style": {"groups": 3, "images": 6, "shards": 1},
    }
    assert summary["generators"] == {f"{FAKE_KIND}:a": 28, f"{FAKE_KIND}:b": 28, f"{FAKE_KIND}:c": 6}
    assert summary["negative_kinds"] == {"attribute:colour": 17}
    assert summary["rejections"]["fake: too long"] == 3
    assert summary["this_run"]["images_rendered"] == 62 and summary["this_run"]["images_per_s"] > 0


def test_groups_negatives_reuse_base_generators_and_seeds(reference: Path) -> None:
    store = GroupStore(reference)
    assert len(store) == 10 and [g.id for g in store.groups][:2] == ["g0000000", "g0000001"]
    for i, group in enumerate(store.groups):
        base = [(r.generator, r.seed) for r in store.caption_images(i)]
        assert base == [(r.generator, r.seed) for r in store.caption_images(i, neg=0)]
        assert sorted(g for g, _ in base) == [f"{FAKE_KIND}:a", f"{FAKE_KIND}:b"]
        assert group.split == "train" and group.source == FAKE_BACKEND
        assert store.image(i, "neg0.1.png").size == (16, 16)
    styled = GroupStore(reference, split="heldout_style")
    assert all(g.id.startswith("s") and len(g.images) == 1 for g in styled.groups)
    assert {g.images[0].generator for g in styled.groups} == {f"{FAKE_KIND}:c"}
    assert {len(g.negatives[0].images) for g in styled.groups} == {1}
    heldout = GroupStore(reference, split="heldout")
    assert not {g.caption for g in heldout.groups} & {g.caption for g in store.groups}


def test_images_are_what_the_generator_draws(reference: Path) -> None:
    store = GroupStore(reference)
    record = store.groups[3].negatives[0].images[1]
    drawn = FakeGenerator(record.generator.split(":")[1], 16, ImagesConfig()).generate(
        [store.groups[3].negatives[0].text], [None], [record.seed]
    )[0]
    assert store.image(3, record.key).tobytes() == drawn.tobytes()


# ----------------------------------------------------------------------------- resume and determinism


def test_resume_after_deleting_last_shard_gives_identical_bytes(reference: Path, tmp_path: Path) -> None:
    dataset = run_build(fake_config(tmp_path))
    (dataset / "heldout_style-000000.tar").unlink()
    (dataset / "train-000001.tar").write_bytes(b"damaged")
    run_build(fake_config(tmp_path))
    assert shard_hashes(dataset) == shard_hashes(reference)
    summary = yaml.safe_load((dataset / "build_summary.json").read_text())
    assert summary["this_run"]["shards_rendered"] == 2 and summary["this_run"]["shards_skipped"] == 3
    assert summary["splits"]["train"] == {"groups": 10, "images": 40, "shards": 3}
    assert (dataset / "manifest.jsonl").read_bytes() == (reference / "manifest.jsonl").read_bytes()


def test_two_workers_give_identical_bytes(reference: Path, tmp_path: Path) -> None:
    dataset = run_build(fake_config(tmp_path, images__workers=2))
    assert shard_hashes(dataset) == shard_hashes(reference)


def test_jpg_format(tmp_path: Path) -> None:
    dataset = run_build(fake_config(tmp_path, images__format="jpg", splits__heldout_style_groups=0))
    group, images = next(read_shard(dataset / "train-000000.tar"))
    assert sorted(images) == ["base.0.jpg", "base.1.jpg", "neg0.0.jpg", "neg0.1.jpg"]
    assert GroupStore(dataset).image(0, "base.0.jpg").size == (16, 16)


def test_second_build_of_a_folder_waits_for_the_first(reference: Path, tmp_path: Path) -> None:
    fcntl = pytest.importorskip("fcntl")
    (tmp_path / "dataset").mkdir()
    finished = threading.Event()
    with open(tmp_path / "dataset" / ".build.lock", "a+b") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # another build holds the folder
        worker = threading.Thread(target=lambda: (run_build(fake_config(tmp_path)), finished.set()))
        worker.start()
        time.sleep(0.5)
        assert not finished.is_set() and not (tmp_path / "dataset" / "manifest.jsonl").exists()
        fcntl.flock(held, fcntl.LOCK_UN)
        worker.join(timeout=60)
    assert finished.is_set()
    assert shard_hashes(tmp_path / "dataset") == shard_hashes(reference)


# ----------------------------------------------------------------------------- bad inputs


def test_unknown_generator_lists_known_ones(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match=rf"unknown generator kind 'nosuch'.*{FAKE_KIND}"):
        run_build(fake_config(tmp_path, images__pool=["nosuch:x"]))
    assert not (tmp_path / "dataset").exists()  # failed before touching the disk


def test_malformed_generator_name(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="must look like '<kind>:<arg>'"):
        run_build(fake_config(tmp_path, images__pool=["flat"]))


def test_unknown_caption_backend(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="unknown caption backend 'nosuch'"):
        run_build(fake_config(tmp_path, captions__backend="nosuch"))


def test_missing_generator_model_path_fails_before_captions(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="/nonexistent/model: model path not found"):
        run_build(fake_config(tmp_path, images__pool=[f"{FAKE_KIND}:a", f"{FAKE_KIND}:/nonexistent/model"]))
    assert not (tmp_path / "dataset" / "build_config.json").exists()  # a corrected rerun is not refused
    run_build(fake_config(tmp_path, captions__n_groups=2, splits__heldout_groups=0))


@pytest.mark.parametrize(
    ("captions", "message"),
    [
        ({"backend": "grammar", "subjects": []}, "leave no subject"),
        ({"backend": "transformers", "model": "/nonexistent/lm"}, "/nonexistent/lm"),
    ],
)
def test_caption_backend_errors_surface_before_rendering(
    tmp_path: Path, captions: dict, message: str
) -> None:
    with contextlib.suppress(ModuleNotFoundError):
        importlib.import_module("synthmphn.captions")  # registers the real backends
    if captions["backend"] not in CAPTION_BACKENDS:
        pytest.skip(f"caption backend {captions['backend']!r} not registered yet")
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        run_build(fake_config(tmp_path, **{f"captions__{k}": v for k, v in captions.items()}))
    assert not list((tmp_path / "dataset").glob("*.tar"))


def test_unwritable_output_dir_names_it(tmp_path: Path) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("a file, not a folder")
    with pytest.raises(OSError, match=r"file\.txt/sub/dataset: cannot create or write the dataset folder"):
        run_build(fake_config(blocker / "sub"))


def test_heldout_style_inside_pool_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="also in images.pool"):
        run_build(fake_config(tmp_path, images__heldout_style=f"{FAKE_KIND}:a"))


def test_heldout_splits_do_not_depend_on_the_training_pool(reference: Path, tmp_path: Path) -> None:
    """Two variants with other pools and strategies share byte-identical held-out shards and captions."""
    single = run_build(
        fake_config(tmp_path / "single", images__pool=[f"{FAKE_KIND}:a"], images__strategy="single")
    )
    other = fake_config(
        tmp_path / "random",
        images__pool=[f"{FAKE_KIND}:b", f"{FAKE_KIND}:d"],
        images__strategy="msm-random",
        images__per_caption=3,
    )
    shuffled = run_build(other)
    for name in ("heldout-000000.tar", "heldout_style-000000.tar"):
        digests = {hashlib.sha256((d / name).read_bytes()).hexdigest() for d in (reference, single, shuffled)}
        assert len(digests) == 1, name
    for split in ("heldout", "heldout_style"):
        cached = {(d / "captions" / f"{split}.jsonl").read_bytes() for d in (reference, single, shuffled)}
        assert len(cached) == 1, split
    assert (single / "train-000000.tar").read_bytes() != (reference / "train-000000.tar").read_bytes()
    heldout = GroupStore(shuffled, split="heldout")
    assert [sorted(r.generator for r in g.images) for g in heldout.groups] == [
        [f"{FAKE_KIND}:a", f"{FAKE_KIND}:b"]
    ] * 4
    train = GroupStore(shuffled)
    assert {r.generator for g in train.groups for r in g.images} <= {f"{FAKE_KIND}:b", f"{FAKE_KIND}:d"}
    texts = {g.caption for g in train.groups} | {n.text for g in train.groups for n in g.negatives}
    assert not texts & (
        {g.caption for g in heldout.groups} | {n.text for g in heldout.groups for n in g.negatives}
    )


def test_null_reference_pool_draws_heldout_with_the_training_pool(tmp_path: Path) -> None:
    cfg = fake_config(
        tmp_path, images__pool=[f"{FAKE_KIND}:d"], images__strategy="single", splits__reference_pool=None
    )
    heldout = GroupStore(run_build(cfg), split="heldout")
    assert {r.generator for g in heldout.groups for r in g.images} == {f"{FAKE_KIND}:d"}
    assert {len(g.images) for g in heldout.groups} == {2}  # images.per_caption


def test_reference_pool_with_the_heldout_style_is_refused(tmp_path: Path) -> None:
    profiled = [f"{FAKE_KIND}:a", f"{FAKE_KIND}:c?fidelity=0.5"]
    with pytest.raises(
        BuildError, match=r"splits.reference_pool includes the held-out style 'buildtestfake:c'"
    ):
        run_build(fake_config(tmp_path, splits__reference_pool=profiled))
    assert not (tmp_path / "dataset").exists()


def test_no_heldout_style_skips_that_split(tmp_path: Path) -> None:
    dataset = run_build(fake_config(tmp_path, images__heldout_style=None, captions__n_groups=4))
    assert Manifest.load(dataset).splits() == ["train", "heldout"]
    summary = yaml.safe_load((dataset / "build_summary.json").read_text())
    assert "heldout_style" in summary["skipped_splits"]


def test_config_mismatch_on_resume_names_the_fields(reference: Path, tmp_path: Path) -> None:
    run_build(fake_config(tmp_path))
    with pytest.raises(BuildError) as caught:
        run_build(fake_config(tmp_path, seed=8, images__size=24))
    message = str(caught.value)
    assert "images.size: was 16, now 24" in message and "seed: was 7, now 8" in message
    assert "captions" not in message
    run_build(fake_config(tmp_path, images__workers=2))  # execution-only fields may change
    assert shard_hashes(tmp_path / "dataset") == shard_hashes(reference)


def test_foreign_shards_without_build_config_are_refused(tmp_path: Path) -> None:
    (tmp_path / "dataset").mkdir()
    (tmp_path / "dataset" / "manifest.jsonl").write_text("")
    with pytest.raises(BuildError, match="no build_config.json"):
        run_build(fake_config(tmp_path))


@pytest.mark.skipif(importlib.util.find_spec("ray") is not None, reason="ray is installed")
def test_ray_engine_without_ray_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match=r"pip install 'synthmphn\[ray\]'"):
        run_build(fake_config(tmp_path, images__engine="ray"))


# ----------------------------------------------------------------------------- real parts


def real_parts_missing() -> str | None:
    """Why the real grammar + procedural build cannot run (importing synthmphn.build registers both), or None."""
    if "grammar" not in CAPTION_BACKENDS or "procedural" not in GENERATORS:
        return "grammar caption backend or procedural generators not registered yet"
    return None


def real_config_tree(out: Path) -> dict:
    """A small real build: 9 shards of 8 groups, grammar captions, 2 procedural styles at 32 px."""
    return {
        "seed": 3,
        "output": {"dir": str(out)},
        "captions": {"n_groups": 56},
        "images": {"pool": ["procedural:flat", "procedural:sketch"], "per_caption": 2, "size": 32},
        "shards": {"groups_per_shard": 8},
        "splits": {"heldout_groups": 8, "heldout_style_groups": 8},
    }


def test_sigkill_then_resume_matches_uninterrupted_build(tmp_path: Path) -> None:
    reason = real_parts_missing()
    if reason:
        pytest.skip(reason)
    config = tmp_path / "small.yaml"
    config.write_text(yaml.safe_dump(real_config_tree(tmp_path / "killed")))
    command = [str(VENV_BIN / "synthmphn"), "build", str(config)]
    env = {**os.environ, "SYNTHMPHN_QUIET": "1"}
    manifest = tmp_path / "killed" / "dataset" / "manifest.jsonl"
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    killed_after = None
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        listed = len(manifest.read_text().splitlines()) if manifest.exists() else 0
        if 1 <= listed < 9:
            process.send_signal(signal.SIGKILL)
            killed_after = listed
            break
        time.sleep(0.005)
    process.wait()
    assert killed_after is not None, (
        f"build finished before it could be killed: {process.stderr.read()[-2000:]}"
    )
    assert process.returncode == -signal.SIGKILL
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-3000:]
    summary = yaml.safe_load((tmp_path / "killed" / "dataset" / "build_summary.json").read_text())
    assert summary["this_run"]["shards_skipped"] >= killed_after
    uninterrupted = run_build(validate_config(real_config_tree(tmp_path / "straight")))
    resumed, straight = shard_hashes(tmp_path / "killed" / "dataset"), shard_hashes(uninterrupted)
    differing = sorted(name for name in straight if resumed.get(name) != straight[name])
    assert not differing, f"killed after {killed_after} shard(s); shards differing after resume: {differing}"
    assert len(shard_hashes(uninterrupted)) == 9
    assert not list((tmp_path / "killed" / "dataset").glob(".*.tmp"))


def test_default_build_end_to_end(tmp_path: Path) -> None:
    """The defaults (grammar + 5 procedural styles, msm-all) at a reduced size, read back through GroupStore."""
    reason = real_parts_missing()
    if reason:
        pytest.skip(reason)
    cfg = validate_config(
        {
            "output": {"dir": str(tmp_path)},
            "captions": {"n_groups": 100},
            "splits": {"heldout_groups": 20, "heldout_style_groups": 20},
        }
    )
    dataset = run_build(cfg)
    assert Manifest.load(dataset).verify() == 3
    store = GroupStore(dataset)
    assert len(store) == 100 and len(store.caption_images(0)) == 5
    assert {r.generator for r in store.caption_images(0)} == set(cfg.images.pool)
    assert store.image(0, "base.0.png").size == (64, 64)


def test_default_reference_plan_is_the_default_training_plan_and_is_recorded(reference: Path) -> None:
    """A default run's heldout is drawn as before (the default pool, msm-all, 5 each); the summary says how."""
    plans = split_plans(RunConfig())
    assert plans["heldout"] == plans["train"]
    assert (
        split_plans(validate_config({"images": {"pool": ["procedural:ink"], "strategy": "single"}}))[
            "heldout"
        ]
        == plans["train"]
    )
    summary = yaml.safe_load((reference / "build_summary.json").read_text())
    assert summary["heldout_render"] == {
        "heldout": {
            "pool": [f"{FAKE_KIND}:a", f"{FAKE_KIND}:b"],
            "strategy": "msm-all",
            "per_caption": 2,
            "scope": "shared",
        },
        "heldout_style": {
            "pool": [f"{FAKE_KIND}:c"],
            "strategy": "single",
            "per_caption": 1,
            "scope": "shared",
        },
    }
