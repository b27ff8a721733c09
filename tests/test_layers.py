"""The pipeline's import rules (docs/architecture.md): no function-level imports of synthmphn outside cli.py,
and the stages below eval never reach up into captions/images or the orchestrators."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "synthmphn"
LOWER = ("eval", "data", "models", "losses", "train")
UPPER = ("captions", "images", "build", "experiment", "analyse", "gate")


def _imports(tree: ast.AST) -> list[tuple[ast.AST, str]]:
    """(node, imported synthmphn module) of every `import synthmphn...` / `from synthmphn... import`."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("synthmphn"):
            found.append((node, node.module))
        elif isinstance(node, ast.Import):
            found += [(node, a.name) for a in node.names if a.name.startswith("synthmphn")]
    return found


def _function_level(tree: ast.AST) -> set[int]:
    """Ids of import nodes inside a function body."""
    inner = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            inner |= {id(n) for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom))}
    return inner


def test_no_function_level_imports_of_synthmphn_outside_cli() -> None:
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        if path.name == "cli.py" and path.parent == SRC:
            continue
        tree = ast.parse(path.read_text())
        inner = _function_level(tree)
        offenders += [f"{path.relative_to(SRC)}:{n.lineno} {m}" for n, m in _imports(tree) if id(n) in inner]
    assert offenders == []


def test_lower_stages_import_nothing_above_them() -> None:
    offenders = []
    for stage in LOWER:
        for path in sorted((SRC / stage).rglob("*.py")):
            for node, module in _imports(ast.parse(path.read_text())):
                if module.split(".")[1:2] and module.split(".")[1] in UPPER:
                    offenders.append(f"{path.relative_to(SRC)}:{node.lineno} {module}")
    assert offenders == []
