"""Fixtures of the browser tests: a real Prefect server with its UI, the blocks in it, screenshots.

The Prefect test harness serves the API only, so these tests start `prefect server start` (as the sandbox does) on
a free port with its SQLite database in a temporary folder, once per session.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cloudops.sandbox import prefect_server
from cloudops.sandbox.processes import stop, sweep, wait_until
from cloudops.sandbox.sandbox import Sandbox
from cloudops.settings import Settings
from tests.browser.prefect_ui import Screenshots

# A fresh server's start took over 120 s (the sandbox's own limit) here while the suite and others ran beside it.
SERVER_START_TIMEOUT = 300.0
OUTPUT = Path(__file__).resolve().parent.parent / "output" / "browser"
_written: list[Path] = []


@dataclass(frozen=True)
class UiServer:
    api_url: str

    @property
    def ui_url(self) -> str:
        return self.api_url.removesuffix("/api")


@pytest.fixture(scope="session")
def ui_server(tmp_path_factory: pytest.TempPathFactory, settings: Settings) -> Iterator[UiServer]:
    """`prefect server start` with its UI on 127.0.0.1, started by the sandbox's own starter on a free port."""
    root = tmp_path_factory.mktemp("prefect-ui")
    state = Sandbox(root, settings, auto_ports=True).state
    state.logs.mkdir(parents=True, exist_ok=True)
    pid = prefect_server.start(state)
    try:
        wait_until(
            lambda: prefect_server.answers(state),
            part="Prefect server",
            pid=pid,
            log=state.logs / "prefect-server.log",
            timeout=SERVER_START_TIMEOUT,
        )
        yield UiServer(state.prefect_api_url)
    finally:
        stop(pid)
        sweep([root])


@pytest.fixture(scope="session")
def ui_blocks(sandbox: Sandbox, ui_server: UiServer) -> dict[str, str]:
    """Every stage's credential block, saved in the UI server (not the harness's)."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from blocks.register import save_sandbox_blocks

    with temporary_settings(updates={PREFECT_API_URL: ui_server.api_url}):
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
