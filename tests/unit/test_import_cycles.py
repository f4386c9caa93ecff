"""No import cycle in the product, lazy imports included.

import-linter's contracts (pyproject.toml) keep the layers apart, but within a layer a module may import one that
imports it back, and an import moved into a function, or under ``TYPE_CHECKING``, hides the cycle from Python
without removing it. This reads every import statement of the product's modules, wherever it stands, and fails on
each cycle, naming its modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("cloudops", "blocks", "tasks", "flows", "deployments", "cli")


def product_modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the product's packages: dotted name -> file."""
    found = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The product modules ``name`` imports, at any depth of its code."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*parent, *([base] if base else [])])
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    modules = product_modules(root)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def test_the_product_has_no_import_cycle() -> None:
    assert cycles(import_graph()) == [], "break each cycle: move what both need into a module of its own"


def test_a_cycle_through_a_lazy_or_type_checking_import_is_found(tmp_path: Path) -> None:
    # Given a package whose modules import each other: one at the top, one inside a function, one for typing only
    package = tmp_path / "cloudops"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from cloudops.b import thing\n")
    (package / "b.py").write_text("def thing():\n    from cloudops import a\n    return a\n")
    (package / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .d import X\n")
    (package / "d.py").write_text("from cloudops.c import TYPE_CHECKING\nX = 1\n")
    (package / "e.py").write_text("from cloudops import a\n")  # imports into a cycle, is in none

    # Then both cycles are found, and nothing else
    assert cycles(import_graph(tmp_path)) == [["cloudops.a", "cloudops.b"], ["cloudops.c", "cloudops.d"]]
