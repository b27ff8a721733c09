"""`synthmphn list`: every registered part of every family, with the first line of its docstring."""

from __future__ import annotations

import inspect

import pytest
from typer.testing import CliRunner

from synthmphn.captions import CAPTION_BACKENDS
from synthmphn.catalog import FAMILIES, describe, format_catalog
from synthmphn.cli import app
from synthmphn.data.schedules import HN_SCHEDULES
from synthmphn.eval import EVAL_TASKS
from synthmphn.eval.reference import REFERENCES
from synthmphn.images import GENERATORS, STYLES
from synthmphn.losses import LOSSES
from synthmphn.models import tiny_model_names
from synthmphn.recaption import CAPTIONERS
from synthmphn.registry import Registry

REGISTRIES: dict[str, Registry] = {
    "caption-backends": CAPTION_BACKENDS,
    "generators": GENERATORS,
    "styles": STYLES,
    "schedules": HN_SCHEDULES,
    "losses": LOSSES,
    "eval-tasks": EVAL_TASKS,
    "reference-models": REFERENCES,
    "captioners": CAPTIONERS,
}
ISSUE_FAMILIES = ["losses", "generators", "styles", "eval-tasks", "schedules", "models", "captioners"]


def rows(output: str, family: str) -> dict[str, str]:
    """name -> described line of one family's block in `synthmphn list` output."""
    block = output.split(f"{family}:\n", 1)[1].split("\n\n", 1)[0]
    return dict(line.strip().split(maxsplit=1) for line in block.splitlines())


def test_the_catalog_covers_every_family_the_cli_promises() -> None:
    assert set(ISSUE_FAMILIES) <= set(FAMILIES)
    assert set(FAMILIES) == {*REGISTRIES, "models"}


@pytest.mark.parametrize("family", sorted(REGISTRIES))
def test_list_prints_every_registered_name_with_its_first_docstring_line(family: str) -> None:
    result = CliRunner().invoke(app, ["list", family])
    assert result.exit_code == 0, result.output
    registry = REGISTRIES[family]
    listed = rows(result.output, family)
    assert sorted(listed) == registry.names()
    for name in registry.names():
        first = inspect.getdoc(registry.get(name)).splitlines()[0]
        assert first, f"{family} {name!r} has no docstring"
        assert listed[name] == first


def test_list_models_describes_each_tiny_config_from_its_json() -> None:
    result = CliRunner().invoke(app, ["list", "models"])
    assert result.exit_code == 0, result.output
    listed = rows(result.output, "models")
    assert sorted(listed) == tiny_model_names()
    assert listed["synth-tiny-vit"] == (
        "ViT (patch 4, 4 layers x 128) on 32 px; text 4 layers x 128, context 32; embed 128"
    )
    assert listed["synth-tiny-cnn"].startswith("ResNet (blocks 1-1-1-1, width 16) on 64 px;")
    assert listed["synth-tiny-sigmoid"].endswith("; sigmoid logits (bias -10)")
    assert listed["synth-tiny-convnext-32"].startswith("timm test_convnext (avg pool) on 32 px;")


def test_list_without_a_family_prints_all_of_them_in_pipeline_order() -> None:
    result = CliRunner().invoke(app, ["list"])
    assert result.exit_code == 0, result.output
    headers = [line[:-1] for line in result.output.splitlines() if line.endswith(":")]
    assert headers == list(FAMILIES)
    assert rows(result.output, "losses") == LOSSES.describe()


def test_an_unknown_family_fails_naming_the_known_ones() -> None:
    result = CliRunner().invoke(app, ["list", "lossez"])
    assert result.exit_code == 1
    assert "unknown family 'lossez'; known: caption-backends, generators" in result.output
    with pytest.raises(ValueError, match="known: caption-backends"):
        describe("lossez")


def test_format_catalog_pads_names_to_one_column() -> None:
    text = format_catalog({"fruit": {"fig": "small", "banana": "long"}, "empty": {}})
    assert text == "fruit:\n  fig     small\n  banana  long\n\nempty:\n  (none registered)"
