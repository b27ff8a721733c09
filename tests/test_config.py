"""Config loading: YAML + key.sub=value overrides, errors that name the file and field."""

from pathlib import Path

import pytest

from synthmphn.config import (
    ConfigError,
    RunConfig,
    identity_differences,
    identity_of,
    late_default_fields,
    load_config,
    output_neutral_fields,
    parse_override,
    stage_identity,
)


def test_overrides_parse_yaml_values():
    assert parse_override("images.size=32") == (["images", "size"], 32)
    assert parse_override("images.pool=[procedural:flat, procedural:pixel]") == (
        ["images", "pool"],
        ["procedural:flat", "procedural:pixel"],
    )
    assert parse_override("output.dir=runs/x") == (["output", "dir"], "runs/x")


def test_yaml_then_overrides(tmp_path: Path):
    path = tmp_path / "run.yaml"
    path.write_text(
        "seed: 3\nimages:\n  size: 48\n  strategy: single\n  pool: [procedural:flat]\n  per_caption: 2\n"
    )
    cfg = load_config(path, ["images.size=32", "train.loss=clip"])
    assert cfg.seed == 3
    assert cfg.images.size == 32
    assert cfg.images.strategy == "single"
    assert cfg.train.loss == "clip"
    assert cfg.dataset_dir == Path("runs/quickstart/dataset")


def test_unknown_field_is_named(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text("images:\n  sise: 3\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: images.sise: Extra inputs"):
        load_config(path)


def test_wrong_value_is_named():
    with pytest.raises(ConfigError, match=r"images.strategy"):
        load_config(None, ["images.strategy=all-of-them"])
    with pytest.raises(ConfigError, match=r"train.lr: Input should be greater than 0"):
        load_config(None, ["train.lr=-1"])


def test_bad_override_syntax_and_missing_file(tmp_path: Path):
    with pytest.raises(ConfigError, match="key.sub=value"):
        load_config(None, ["images.size"])
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="images.pool"):
        load_config(None, ["images.pool=[]"])


def test_train_needs_a_length():
    with pytest.raises(ConfigError, match="train.epochs or train.steps"):
        load_config(None, ["train.steps=null"])


# ----------------------------------------------------------------------------- stage identities


def test_output_neutral_fields_are_read_from_the_field_markers():
    neutral = output_neutral_fields()
    assert neutral["images.workers"] == neutral["images.engine"] == "execution"
    assert neutral["train.steps"] == "resumable" and neutral["output.dir"] == "location"
    assert "images.size" not in neutral and "train.lr" not in neutral


def test_workers_and_engine_do_not_change_the_build_identity():
    base = RunConfig()
    other = RunConfig.model_validate(
        {"images": {"workers": 8, "engine": "ray"}, "captions": {"concurrency": 9}}
    )
    assert stage_identity(base, "build") == stage_identity(other, "build")
    assert stage_identity(base, "run") == stage_identity(other, "run")
    resized = RunConfig.model_validate({"images": {"size": 32}})
    assert identity_differences(stage_identity(base, "build"), stage_identity(resized, "build")) == [
        "images.size: was 64, now 32"
    ]


def test_each_stage_keeps_only_its_sections():
    cfg = RunConfig()
    assert {k.split(".")[0] for k in stage_identity(cfg, "build")} == {
        "seed",
        "captions",
        "images",
        "shards",
        "splits",
    }
    assert {k.split(".")[0] for k in stage_identity(cfg, "train")} == {"seed", "train"}
    assert {k.split(".")[0] for k in stage_identity(cfg, "recaption")} == {"seed", "recaption"}
    assert "recaption.alpha" in stage_identity(cfg, "recaption")
    assert "recaption.eval_groups" not in stage_identity(cfg, "recaption")
    assert {k.split(".")[0] for k in stage_identity(cfg, "gate")} == {"seed", "gate"}
    assert "gate.threshold" in stage_identity(cfg, "gate")
    assert "gate.device" not in stage_identity(cfg, "gate")  # execution: never changes the gated shards
    with pytest.raises(ValueError, match="unknown stage 'eval'; known: build, train, recaption, gate, run"):
        stage_identity(cfg, "eval")


def test_resumable_fields_leave_train_resume_but_not_the_run():
    short, longer = RunConfig(), RunConfig.model_validate({"train": {"steps": 5000, "threads": 4}})
    assert stage_identity(short, "train") == stage_identity(longer, "train")
    assert identity_differences(stage_identity(short, "run"), stage_identity(longer, "run")) == [
        "train.steps: was 1000, now 5000"
    ]
    moved = RunConfig.model_validate(
        {"output": {"dir": "elsewhere"}, "train": {"data": "d", "device": "cuda"}}
    )
    assert stage_identity(moved, "run") == stage_identity(short, "run")  # location / execution only


def test_a_late_key_at_its_default_leaves_identities_as_they_were():
    default, edit = RunConfig(), RunConfig.model_validate({"captions": {"negative_source": "edit"}})
    assert late_default_fields() == {
        "captions.negative_source": "value",
        "captions.negative_kind_weights": {},
        "images.gate": False,
        "train.loader": "auto",
    }
    recorded = default.model_dump(mode="json")
    del recorded["captions"]["negative_source"]  # a build_config.json written before the keys existed
    del recorded["images"]["gate"]
    del recorded["train"]["loader"]
    workers = RunConfig.model_validate({"train": {"loader": "workers"}})
    assert identity_differences(identity_of(recorded, "run"), stage_identity(workers, "run")) == [
        "train.loader: was (unset), now 'workers'"
    ]
    for stage in ("build", "run"):
        assert "captions.negative_source" not in stage_identity(default, stage)
        assert "images.gate" not in stage_identity(default, stage)
        assert identity_of(recorded, stage) == stage_identity(default, stage)
        assert identity_differences(identity_of(recorded, stage), stage_identity(edit, stage)) == [
            "captions.negative_source: was (unset), now 'edit'"
        ]


def test_identity_differences_compare_nested_and_dotted_records():
    old = {"images": {"size": 16, "format": "png"}, "seed": 1}
    new = {"images.size": 16, "images.format": "jpg", "shards.groups_per_shard": 4}
    assert identity_differences(old, new) == [
        "images.format: was 'png', now 'jpg'",
        "seed: was 1, now (unset)",
        "shards.groups_per_shard: was (unset), now 4",
    ]
    assert identity_differences(old, {"seed": 1, "images.size": 16, "images.format": "png"}) == []


def test_reference_pool_defaults_and_validation():
    cfg = RunConfig()
    assert cfg.splits.reference_pool == cfg.images.pool  # the default pool's five faithful styles
    assert "procedural:mosaic" not in cfg.splits.reference_pool  # the default held-out style
    assert load_config(None, ["splits.reference_pool=null"]).splits.reference_pool is None
    with pytest.raises(
        ConfigError, match=r"splits.reference_pool: Value error, splits.reference_pool must name"
    ):
        load_config(None, ["splits.reference_pool=[]"])
    with pytest.raises(ConfigError, match=r"splits.reference_pool has duplicates"):
        load_config(None, ["splits.reference_pool=[procedural:flat, procedural:flat]"])
    # Part of the build identity: another reference pool is another dataset.
    other = load_config(None, ["splits.reference_pool=[procedural:ink]"])
    assert identity_differences(stage_identity(cfg, "build"), stage_identity(other, "build")) == [
        f"splits.reference_pool: was {cfg.splits.reference_pool!r}, now ['procedural:ink']"
    ]
