"""The test suite's own layout: test modules run in any order, so none imports another test module or a conftest.

A test module imported by another runs its module-level code twice under two names, and what it shares ties
the two together; shared helpers live in helper modules under tests/ (tests/app_source.py, tests/ops_helpers.py
...), fixtures in conftest.py.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
SANDBOX_TESTS = TESTS.parent / "sandbox" / "sandbox_tests"  # the sandbox's own, in its workspace member


def is_test_module(dotted: str) -> bool:
    last = dotted.rsplit(".", 1)[-1]
    return last == "conftest" or last.startswith("test_")


def imported_test_modules(source: str, package: str) -> list[str]:
    """The test modules and conftests that ``source``, a module of ``package``, imports (absolute or relative)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if is_test_module(alias.name)]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*parent, *([base] if base else [])])
            modules = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            found += [module for module in modules if is_test_module(module)]
    return found


def test_no_module_of_the_suite_imports_a_test_module_or_a_conftest() -> None:
    offenders = {}
    for folder, top in ((TESTS, TESTS.parent), (SANDBOX_TESTS, SANDBOX_TESTS.parent)):
        for path in sorted(folder.rglob("*.py")):
            package = ".".join(path.relative_to(top).parent.parts)
            imported = imported_test_modules(path.read_text(), package)
            if imported:
                offenders[str(path.relative_to(TESTS.parent))] = imported
    assert offenders == {}, "move what these share into a helper module under tests/ (or a fixture)"


@pytest.mark.parametrize(
    ("source", "package", "expected"),
    [
        ("from tests.test_release import reject_earlier", "tests.browser", ["tests.test_release"]),
        ("from tests.conftest import ReleaseSource", "tests", ["tests.conftest"]),
        ("import tests.test_approval", "tests", ["tests.test_approval"]),
        ("from tests import test_approval, polling", "tests", ["tests.test_approval"]),
        ("from .test_approval import paused_run", "tests", ["tests.test_approval"]),
        ("from ..conftest import UiServer", "tests.browser", ["tests.conftest"]),
        ("from tests.approvals import paused_run\nfrom tests.e2e.browser import prefect_ui", "tests", []),
        ("import pytest\nfrom cloudops import settings", "tests", []),
    ],
)
def test_the_check_sees_each_way_of_importing_a_test_module(source: str, package: str, expected: list[str]) -> None:
    assert imported_test_modules(source, package) == expected
