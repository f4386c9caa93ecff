"""QA approval given in a real browser: the paused run is found in the Prefect UI, its form filled and submitted.

The run under test is the await-approval gate, run in another process against the UI server; to drive the full
release instead, start that flow in `GateRun` and keep the page steps (tests/browser/prefect_ui.py) as they are.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from cloudops import audit
from cloudops.release import Release
from cloudops.sandbox.sandbox import Sandbox
from cloudops.settings import Settings
from tests.browser import prefect_ui as ui
from tests.browser.conftest import UiServer

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
PAUSE_TIMEOUT = 180.0  # the flow's own start (imports, blocks, STS) on a busy 2-core machine
END_TIMEOUT = 180.0


class GateRun:
    """await-approval for ``release`` in ``stage``, named ``name``, in a process of its own against ``server``."""

    def __init__(self, server: UiServer, release: Release, stage: str, log: Path) -> None:
        self.server = server
        self.name = f"{stage}-approval-{uuid.uuid4().hex[:6]}"
        code = (
            "import sys; from flows.await_approval import await_approval; "
            "await_approval.with_options(flow_run_name=sys.argv[1])(version=sys.argv[2], stage=sys.argv[3], "
            "poll_interval=1)"
        )
        log.parent.mkdir(parents=True, exist_ok=True)
        self._log = log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-c", code, self.name, release.version, stage],
            cwd=REPO,
            env={**os.environ, "PREFECT_API_URL": server.api_url},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def state(self) -> str | None:
        """The run's state type as the server has it (None before the run exists)."""
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings(updates={PREFECT_API_URL: self.server.api_url}), get_client(sync_client=True) as client:
            runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[self.name])))
        return runs[0].state.type.value if runs and runs[0].state else None

    def wait_until_paused(self) -> None:
        deadline = time.monotonic() + PAUSE_TIMEOUT
        while self.state() != "PAUSED":
            assert self.process.poll() is None, f"the gate ended before pausing; see {self._log.name}"
            assert time.monotonic() < deadline, f"{self.name} did not pause within {PAUSE_TIMEOUT} s"
            time.sleep(0.5)

    def wait_for_end(self) -> int:
        try:
            return self.process.wait(timeout=END_TIMEOUT)
        finally:
            self._log.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._log.close()


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Page]:
    with ui.chromium(tmp_path / "chromium-profile") as context:
        yield context.new_page()


@pytest.fixture
def qa_gate(
    ui_server: UiServer, ui_blocks: dict[str, str], gate_release: Release, shots: ui.Screenshots
) -> Iterator[GateRun]:
    """The release's QA gate, paused on the UI server (its output in the screenshots folder)."""
    run = GateRun(ui_server, gate_release, "qa", shots.folder / "flow-run.log")
    try:
        run.wait_until_paused()
        yield run
    finally:
        run.stop()


def approvals(sandbox: Sandbox, settings: Settings, release: Release) -> list[audit.AuditEntry]:
    bucket = settings.stage(settings.build_stage).bucket
    trail = audit.entries(sandbox.account(settings.build_stage), bucket, release.application, release.version)
    return [e for e in trail if e.kind == "approval"]


def test_an_approval_in_the_ui_lets_the_run_go_on(
    sandbox: Sandbox,
    settings: Settings,
    ui_server: UiServer,
    gate_release: Release,
    qa_gate: GateRun,
    page: Page,
    shots: ui.Screenshots,
) -> None:
    ui.open_paused_run(page, ui_server.ui_url, qa_gate.name, shots)
    ui.submit_approval_form(
        page, shots, decision="approve", approver="erin@example.com", ticket="QA-42", comment="checked in QA"
    )
    ui.wait_for_state(page, "Completed", shots)
    ui.wait_for_log(page, f"{gate_release.id} in qa: approved by erin@example.com", shots)

    assert qa_gate.wait_for_end() == 0
    assert qa_gate.state() == "COMPLETED"
    [entry] = approvals(sandbox, settings, gate_release)
    assert (entry.stage, entry.decision, entry.actor, entry.ticket, entry.comment) == (
        "qa",
        "approved",
        "erin@example.com",
        "QA-42",
        "checked in QA",
    )
    assert entry.digests == {name: image.digest for name, image in gate_release.images.items()}


def test_a_rejection_in_the_ui_stops_the_release(
    sandbox: Sandbox,
    settings: Settings,
    ui_server: UiServer,
    gate_release: Release,
    qa_gate: GateRun,
    page: Page,
    shots: ui.Screenshots,
) -> None:
    ui.open_paused_run(page, ui_server.ui_url, qa_gate.name, shots)
    ui.submit_approval_form(page, shots, decision="reject", approver="frank", comment="login page broken")
    # the gate itself ends normally with its decision; what stops is the promotion that needed an approval
    ui.wait_for_state(page, "Completed", shots)
    ui.wait_for_log(page, f"{gate_release.id} in qa: rejected by frank", shots)

    assert qa_gate.wait_for_end() == 0
    [entry] = approvals(sandbox, settings, gate_release)
    assert (entry.stage, entry.decision, entry.actor, entry.comment) == ("qa", "rejected", "frank", "login page broken")
    assert audit.latest_approval([entry], gate_release.version, "qa") == entry
