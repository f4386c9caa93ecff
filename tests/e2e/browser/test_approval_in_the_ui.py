"""QA approval given in a real browser: a release pauses for QA approval; the paused approval run is found in the
Prefect UI, its form filled and submitted; the release then promotes to staging (or, rejected, stops).

The release flow runs in a process of its own against the UI server, as a person's `cloudops release` would.
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
from cloudops.promotion import release_digests
from cloudops.registry import RegistryClient
from cloudops.release import Release
from cloudops.settings import Settings
from sandbox.sandbox import Sandbox
from tests.app_source import ReleaseSource
from tests.e2e.browser import prefect_ui as ui
from tests.ops_helpers import reject_earlier
from tests.ui_servers import UiServer

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
PAUSE_TIMEOUT = 900.0  # the release's build check, promotion and QA deploy come first, on a busy 2-core machine
END_TIMEOUT = 900.0


class ReleaseRun:
    """The release flow to staging, named ``name``, in a process of its own against ``server``."""

    def __init__(self, server: UiServer, log: Path) -> None:
        self.server = server
        self.name = f"release-{uuid.uuid4().hex[:6]}"
        self.approval_name = f"{self.name}-approval-qa"
        code = (
            "import sys; from flows.release import release; "
            "release.with_options(flow_run_name=sys.argv[1])(ref='main', to_stage='staging', started_by='alice', "
            "approval_poll_seconds=1)"
        )
        log.parent.mkdir(parents=True, exist_ok=True)
        self._log = log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-c", code, self.name],
            cwd=REPO,
            env={**os.environ, **server.client_env()},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def state(self, name: str) -> str | None:
        """The state type of run ``name`` as the server has it (None before the run exists)."""
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
        from prefect.settings import temporary_settings

        with temporary_settings(updates=self.server.client_settings()), get_client(sync_client=True) as client:
            runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name])))
        return runs[0].state.type.value if runs and runs[0].state else None

    def wait_until_paused(self) -> None:
        deadline = time.monotonic() + PAUSE_TIMEOUT
        while self.state(self.approval_name) != "PAUSED":
            assert self.process.poll() is None, f"the release ended before pausing; see {self._log.name}"
            assert time.monotonic() < deadline, f"{self.approval_name} did not pause within {PAUSE_TIMEOUT} s"
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
def page(tmp_path: Path, ui_server: UiServer, shots: ui.Screenshots) -> Iterator[Page]:
    """A browser page signed in to the UI server with its login, as a person types it in the login form."""
    with ui.chromium(tmp_path / "chromium-profile") as context:
        page = context.new_page()
        ui.sign_in(page, ui_server.ui_url, ui_server.login.get_secret_value(), shots)
        yield page


@pytest.fixture
def release_run(
    sandbox: Sandbox,
    ui_server: UiServer,
    ui_blocks: dict[str, str],
    release_env: ReleaseSource,
    release: Release,
    shots: ui.Screenshots,
) -> Iterator[ReleaseRun]:
    """A release of the session's build to staging, paused for QA approval on the UI server."""
    reject_earlier(sandbox, release, "qa")  # so that an approval recorded by another test is not reused
    run = ReleaseRun(ui_server, shots.folder / "release-run.log")
    try:
        run.wait_until_paused()
        yield run
    finally:
        run.stop()


def approvals(sandbox: Sandbox, settings: Settings, release: Release) -> list[audit.ApprovalEntry]:
    bucket = settings.stage(settings.build_stage).bucket
    trail = audit.entries(sandbox.account(settings.build_stage), bucket, release.application, release.version)
    return [e for e in trail if isinstance(e, audit.ApprovalEntry)]


def test_an_approval_in_the_ui_promotes_the_release_to_staging(
    sandbox: Sandbox,
    settings: Settings,
    ui_server: UiServer,
    release: Release,
    release_run: ReleaseRun,
    page: Page,
    shots: ui.Screenshots,
) -> None:
    ui.open_paused_run(page, ui_server.ui_url, release_run.approval_name, shots)
    # the form shows QA's verification of this very deploy: each check with its result, and the endpoints
    verified = (
        f"Verification of {release.version} in qa (author-live): passed",
        "verified: 10 checks passed",
        "smoke live: live products",
        "Endpoints:",
    )
    ui.submit_approval_form(
        page,
        shots,
        decision="approve",
        approver="erin@example.com",
        ticket="QA-42",
        comment="checked in QA",
        shows=verified,
    )
    ui.wait_for_state(page, "Completed", shots)
    ui.wait_for_log(page, f"{release.id} in qa: approved by erin@example.com", shots)
    # the release goes on: promotion to staging and its deploy, then the run completes, and its page says so
    assert release_run.wait_for_end() == 0
    assert release_run.state(release_run.name) == "COMPLETED"
    ui.open_parent_run(page, release_run.name, shots, "Completed")
    ui.wait_for_log(page, "staging: promoted", shots)

    entry = approvals(sandbox, settings, release)[-1]
    assert (entry.stage, entry.decision, entry.actor, entry.ticket, entry.comment) == (
        "qa",
        "approved",
        "erin@example.com",
        "QA-42",
        "checked in QA",
    )
    with RegistryClient(sandbox.state.registries["staging"].login()) as staging:
        for name, digest in release_digests(release).items():
            assert staging.manifest_digest(name, digest) == digest


def test_a_rejection_in_the_ui_stops_the_release(
    sandbox: Sandbox,
    settings: Settings,
    ui_server: UiServer,
    release: Release,
    release_run: ReleaseRun,
    page: Page,
    shots: ui.Screenshots,
) -> None:
    ui.open_paused_run(page, ui_server.ui_url, release_run.approval_name, shots)
    ui.submit_approval_form(page, shots, decision="reject", approver="frank", comment="login page broken")
    ui.wait_for_state(page, "Completed", shots)  # the gate itself ends normally with its decision
    ui.wait_for_log(page, f"{release.id} in qa: rejected by frank", shots)
    # the release stops there and fails, saying who rejected it and why
    assert release_run.wait_for_end() != 0
    assert release_run.state(release_run.name) == "FAILED"
    ui.open_parent_run(page, release_run.name, shots, "Failed")
    ui.wait_for_log(page, "rejected in qa by frank: login page broken", shots)

    trail = audit.entries(
        sandbox.account("build"), settings.stage("build").bucket, release.application, release.version
    )
    rejected_at = max(i for i, e in enumerate(trail) if e.kind == "approval" and e.actor == "frank")
    rejected = trail[rejected_at]
    assert isinstance(rejected, audit.ApprovalEntry) and rejected.decision == "rejected"
    assert [e for e in trail[rejected_at:] if e.kind == "promotion" and e.stage == "staging"] == []
