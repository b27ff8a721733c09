"""Reading a run config: YAML file + `key.sub=value` overrides, validated, errors naming file and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from synthmphn.config.sections import RunConfig


class ConfigError(ValueError):
    """A config file or override is wrong; the message names the file and field."""


def parse_override(text: str) -> tuple[list[str], Any]:
    """Splits `a.b.c=value` into (['a','b','c'], value); the value is parsed as YAML (lists, numbers...)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like key.sub=value")
    key, raw = text.split("=", 1)
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override {text!r} has an empty key part")
    try:
        value = yaml.safe_load(raw) if raw != "" else ""
    except yaml.YAMLError as err:
        raise ConfigError(f"override {text!r}: value is not valid YAML ({err})") from None
    return key.split("."), value


def apply_override(tree: dict[str, Any], path: list[str], value: Any) -> None:
    """Sets tree[path[0]]...[path[-1]] = value, creating intermediate mappings."""
    node = tree
    for part in path[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"override {'.'.join(path)}: {part!r} is not a section")
        node = child
    node[path[-1]] = value


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> RunConfig:
    """Reads a YAML run config (or defaults when `path` is None), applies overrides, validates.

    Errors name the file and the dotted field, e.g. ``configs/x.yaml: images.size: Input should be ...``.
    """
    tree: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        try:
            loaded = read_yaml(path)
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        except ValueError as err:
            raise ConfigError(str(err)) from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{path}: top level must be a mapping of sections")
        tree = loaded or {}
    for text in overrides or []:
        keys, value = parse_override(text)
        apply_override(tree, keys, value)
    return validate_config(tree, source)


def read_yaml(path: str | Path) -> Any:
    """Parses a YAML file; a file that is not UTF-8 text or not YAML is a one-line ValueError naming it
    (and the line and column of a syntax error)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not a UTF-8 text file (byte {err.start}: {err.reason})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: not valid YAML ({yaml_problem(err)})") from None


def yaml_problem(err: yaml.YAMLError) -> str:
    """'line L, column C: problem' of a YAML syntax error (PyYAML's own message spans several lines)."""
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}" if mark is not None else str(problem)


def validate_config(tree: dict[str, Any], source: str = "config") -> RunConfig:
    """Validates a config mapping, turning pydantic errors into one message per wrong field."""
    try:
        return RunConfig.model_validate(tree)
    except ValidationError as err:
        lines = []
        for item in err.errors():
            field = ".".join(str(p) for p in item["loc"]) or "(top level)"
            lines.append(f"{source}: {field}: {item['msg']}")
        raise ConfigError("\n".join(lines)) from None


def config_to_dict(config: BaseModel) -> dict[str, Any]:
    """A JSON/YAML-safe dict of a config (paths as strings), for writing next to outputs."""
    return config.model_dump(mode="json")
