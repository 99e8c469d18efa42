"""The engine's import rule, read from its source: the core depends on no task, no task on
another, and no engine module reaches into another's private names or imports one lazily."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parent.parent.parent / "jobs" / "engine"
# The entry points above the registry: they may import it, nothing below them may.
ENTRIES = {"jobs.engine.search", "jobs.engine.model"}
REGISTRY = "jobs.engine.tasks"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ENGINE.parent.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(ENGINE.rglob("*.py"))}


def _engine_imports(tree: ast.AST) -> list[tuple[ast.stmt, str, list[str]]]:
    """Each import of an engine module: the statement, the module, the names it takes."""
    found: list[tuple[ast.stmt, str, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("jobs.engine"):
                    found.append((node, alias.name, []))
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.level:
                found.append((node, f"relative:{node.module}", [a.name for a in node.names]))
            elif node.module.startswith("jobs.engine") or node.module == "jobs":
                names = [a.name for a in node.names]
                found.append((node, node.module, names))
    return found


def _imported_modules(module: str, names: list[str], statement: str) -> set[str]:
    """`from jobs.engine import config` imports jobs.engine.config; `from x import y` x."""
    submodules = {f"{statement}.{n}" for n in names if f"{statement}.{n}" in MODULES}
    return submodules or {statement}


def _function_bodies(tree: ast.AST) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


def _task_of(module: str) -> str | None:
    prefix = f"{REGISTRY}."
    return module[len(prefix) :] if module.startswith(prefix) else None


@pytest.mark.parametrize("module", sorted(MODULES))
def test_engine_modules_follow_the_import_rule(module: str) -> None:
    tree = ast.parse(MODULES[module].read_text())
    problems = []
    for function in _function_bodies(tree):
        for node, name, _ in _engine_imports(function):
            problems.append(f"line {node.lineno}: imports {name} inside {function.name}()")
    for node, name, names in _engine_imports(tree):
        if name.startswith("relative:"):
            problems.append(f"line {node.lineno}: relative import {name}")
            continue
        private = [n for n in names if n.startswith("_") and n != "__future__"]
        if private:
            problems.append(f"line {node.lineno}: imports private {private} from {name}")
        for imported in _imported_modules(module, names, name):
            task = _task_of(imported)
            if imported == REGISTRY or task is not None:
                if module in ENTRIES or module == REGISTRY:
                    continue
                if _task_of(module) is not None:
                    problems.append(f"line {node.lineno}: the task imports {imported}")
                else:
                    problems.append(f"line {node.lineno}: the core imports {imported}")
            if module.startswith("jobs.engine.io") and not (
                imported.startswith("jobs.engine.io")
                or imported in ("jobs.engine.data", "jobs.engine.facts")
            ):
                problems.append(f"line {node.lineno}: data reading imports {imported}")
    # engine_module._private, on a module imported with `from jobs.engine[.x] import module`
    aliases = {
        alias.asname or alias.name
        for node, name, names in _engine_imports(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if f"{name}.{alias.name}" in MODULES
    }
    for attribute in ast.walk(tree):
        if (
            isinstance(attribute, ast.Attribute)
            and isinstance(attribute.value, ast.Name)
            and attribute.value.id in aliases
            and attribute.attr.startswith("_")
        ):
            name = f"{attribute.value.id}.{attribute.attr}"
            problems.append(f"line {attribute.lineno}: uses {name}")
    assert not problems, f"{module}:\n" + "\n".join(problems)


def test_the_rule_catches_what_it_forbids(tmp_path: Path) -> None:
    source = (
        "from jobs.engine.model import _find\ndef f():\n    from jobs.engine.tasks import text\n"
    )
    tree = ast.parse(source)
    lazy = [name for f in _function_bodies(tree) for _, name, _ in _engine_imports(f)]
    assert lazy == ["jobs.engine.tasks"]
    private = [names for _, _, names in _engine_imports(tree) if any(n[0] == "_" for n in names)]
    assert private == [["_find"]]


def test_no_engine_module_is_over_500_lines() -> None:
    long = {m: n for m, p in MODULES.items() if (n := len(p.read_text().splitlines())) > 520}
    assert not long
