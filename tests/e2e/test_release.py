"""release: build, then stage by stage promote, deploy and wait for approval; against the real parts."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from cloudops import audit
from cloudops.release import Release
from sandbox.sandbox import Sandbox
from tests.app_source import ReleaseSource
from tests.approvals import answer_from_another_process, paused_run
from tests.background import Background
from tests.ops_helpers import reject_earlier
from tests.run_tree import task_runs_under

pytestmark = pytest.mark.slow
BUCKET = "cloudops-build-111111111111"


def release_in_background(**parameters: Any) -> Background:
    """The release flow of the session's source in a thread; the test answers its approvals as a person would."""
    from flows.release import release

    return Background(release, timeout=900, ref="main", approval_poll_seconds=1, **parameters)


def trail(sandbox: Sandbox, release: Release) -> list[audit.AuditEntry]:
    return audit.entries(sandbox.account("build"), BUCKET, release.application, release.version)


def test_a_rejection_stops_the_release_before_the_next_stage(
    sandbox: Sandbox, release_env: ReleaseSource, release: Release
) -> None:
    from flows.release import ReleaseStoppedError

    reject_earlier(sandbox, release, "qa")
    before = len(trail(sandbox, release))
    run = release_in_background(to_stage="prod")
    answer_from_another_process(paused_run(set(), timeout=300), decision="reject", approver="qa.erin", comment="bug 7")
    with pytest.raises(ReleaseStoppedError, match=r"stopped before prod: rejected in qa by qa\.erin: bug 7"):
        run.join()
    after = [e for e in trail(sandbox, release)[before:] if e.kind not in ("deploy", "verification")]
    # QA is promoted (or was already, then not again), then rejected; nothing goes on to staging
    assert [(e.kind, e.stage) for e in after if e.kind != "promotion"] == [("approval", "qa")]
    assert {e.stage for e in after if e.kind == "promotion"} <= {"qa"}
    assert isinstance(after[-1], audit.ApprovalEntry) and after[-1].decision == "rejected"
    # the run's tree opened each stage on the way to prod once: its build's subflows and its approval reused them
    opened = [t.name for t in task_runs_under(newest_release_run()) if t.name.startswith("open-stage-")]
    assert sorted(opened) == ["open-stage-build", "open-stage-prod", "open-stage-qa", "open-stage-staging"]


def newest_release_run() -> UUID:
    """The id of the newest release flow run: this test's (the tests run one at a time)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        (newest,) = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["release"])), sort=FlowRunSort.START_TIME_DESC, limit=1
        )
    return newest.id
