"""Fixtures of the browser tests: a real Prefect server with its UI, the blocks in it, screenshots.

The Prefect test harness serves the API only, so these tests use `ui_server` (tests/fixtures.py; its type in
tests/ui_servers.py): `prefect server start` as the sandbox starts it, on a free port, once per session.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sandbox.sandbox import Sandbox
from tests.e2e.browser.prefect_ui import Screenshots
from tests.ui_servers import UiServer

OUTPUT = Path(__file__).resolve().parents[2] / "output" / "browser"
_written: list[Path] = []


@pytest.fixture(scope="session")
def ui_blocks(sandbox: Sandbox, ui_server: UiServer) -> dict[str, str]:
    """Every stage's credential block, saved in the UI server (not the harness's)."""
    from prefect.settings import temporary_settings

    from sandbox.blocks import save_sandbox_blocks

    with temporary_settings(updates=ui_server.client_settings()):
        return save_sandbox_blocks(sandbox)


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Screenshots:
    """A fresh screenshot folder for this test under tests/output/browser/ (ignored by git)."""
    folder = OUTPUT / re.sub(r"\W+", "-", request.node.name).strip("-")
    for old in folder.glob("*.png"):
        old.unlink()
    _written.append(folder)
    return Screenshots(folder)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _written:
        terminalreporter.write_sep("-", "browser screenshots")
        for folder in _written:
            terminalreporter.write_line(str(folder))
