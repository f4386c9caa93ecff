"""release: build, then stage by stage promote, deploy and wait for approval; against the real parts."""

from __future__ import annotations

import re
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactCollectionFilter, ArtifactCollectionFilterKey
from prefect.settings import PREFECT_UI_URL
from typer.testing import CliRunner

from cli.approvals import AutoApprover
from cli.main import app
from cloudops import audit
from cloudops.promotion import release_digests
from cloudops.registry import RegistryClient
from cloudops.release import Release
from sandbox.sandbox import Sandbox
from tests.app_source import ReleaseSource
from tests.approvals import answer_from_another_process, paused_run
from tests.background import Background
from tests.ops_helpers import reject_earlier

pytestmark = pytest.mark.slow
BUCKET = "cloudops-build-111111111111"


def release_in_background(**parameters: Any) -> Background:
    """The release flow of the session's source in a thread; the test answers its approvals as a person would."""
    from flows.release import release

    return Background(release, timeout=900, ref="main", approval_poll_seconds=1, **parameters)


def trail(sandbox: Sandbox, release: Release) -> list[audit.AuditEntry]:
    return audit.entries(sandbox.account("build"), BUCKET, release.application, release.version)


def test_a_release_waits_for_qa_approval_then_goes_to_staging(
    sandbox: Sandbox, release_env: ReleaseSource, release: Release
) -> None:
    reject_earlier(sandbox, release, "qa")
    run = release_in_background(to_stage="staging", started_by="alice")
    answer_from_another_process(paused_run(set(), timeout=300), decision="approve", approver="qa.erin", ticket="QA-5")
    qa, staging = run.join().stages

    assert (qa.stage, qa.decision, qa.approver, qa.approval_reused) == ("qa", "approved", "qa.erin", False)
    assert (staging.stage, staging.deployed, staging.decision) == ("staging", "author-live", "")
    with RegistryClient(sandbox.state.registries["staging"].login()) as registry:
        for name, digest in release_digests(release).items():
            assert registry.manifest_digest(name, digest) == digest
    kinds = [(e.kind, e.stage, e.actor if e.kind == "approval" else "") for e in trail(sandbox, release)]
    approved_at = kinds.index(("approval", "qa", "qa.erin"))
    assert ("deploy", "staging", "") in kinds[approved_at:]
    # Promoted after the approval, unless an earlier promotion of these digests is still all there (then no new one)
    assert staging.promoted and staging.promotion_reused == (("promotion", "staging", "") not in kinds[approved_at:])
    with get_client(sync_client=True) as client:
        summary = client.read_latest_artifacts(
            artifact_filter=ArtifactCollectionFilter(key=ArtifactCollectionFilterKey(any_=["release-summary"]))
        )
    assert summary and "| qa |" in str(summary[0].data) and "approved by qa.erin" in str(summary[0].data)


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
    assert after[-1].decision == "rejected"


def test_approved_all_the_way_to_prod_and_a_rerun_asks_nothing_and_changes_nothing(
    sandbox: Sandbox, release_env: ReleaseSource, release: Release
) -> None:
    from flows.release import release as release_flow

    reject_earlier(sandbox, release, "qa", "staging")
    promoted_before = [e for e in trail(sandbox, release) if e.kind == "promotion"]
    approvals: list[str] = []
    with AutoApprover("auto-approver", report=approvals.append, poll_seconds=0.3):
        first = release_flow(ref="main", to_stage="prod", started_by="alice", approval_poll_seconds=1).stages
    assert [o.stage for o in first] == ["qa", "staging", "prod"]
    assert [(o.decision, o.approver) for o in first[:2]] == [("approved", "auto-approver")] * 2
    assert len(approvals) == 2 and all("automatically" in line for line in approvals)

    deploys = [e for e in trail(sandbox, release) if e.kind == "deploy"]
    assert [(e.stage, e.actor) for e in deploys[-3:]] == [("qa", "alice"), ("staging", "alice"), ("prod", "alice")]
    # Each stage was promoted by this run, unless an earlier promotion of these digests is still there (another
    # test may have promoted the session's release before): then it is reused, and nothing is copied again.
    promotions = [e for e in trail(sandbox, release) if e.kind == "promotion"]
    assert [e.stage for e in promotions[len(promoted_before) :]] == [o.stage for o in first if not o.promotion_reused]
    assert all(o.stage in {e.stage for e in promoted_before} for o in first if o.promotion_reused)

    # Again, as a person runs it: the command. No approver this time: a pause would time out after 5 s and stop it.
    shown = CliRunner().invoke(app, ["release", "--ref", "main", "--to", "prod", "--approval-timeout", "5"])
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert "  rebuilt: nothing (the package, images and snapshots were there)" in lines
    # Each stage still has the images and snapshots: not promoted again (no promote run, no new promotion
    # entry); no stack changes; the approvals recorded before are not asked for again
    reused = "promoted before (nothing to copy); author-live: no changes"
    assert [line for line in lines if line.split(" ", 1)[0] in ("qa", "staging", "prod")] == [
        f"qa       {reused}; approved by auto-approver (recorded before, not asked again)",
        f"staging  {reused}; approved by auto-approver (recorded before, not asked again)",
        f"prod     {reused}",
    ]
    assert [e for e in trail(sandbox, release) if e.kind == "promotion"] == promotions
    # Where to look: the run, and each environment's endpoints read back from its stage's config store
    ui = PREFECT_UI_URL.value()
    (run_line,) = [line for line in lines if line.startswith("release run:")]
    assert run_line.split()[-1].startswith(f"{ui}/runs/flow-run/")
    prod_live = lines.index(f"  /cloudops/prod/{release.application}/live")
    app_line, broker_line, database_line = lines[prod_live + 1 : prod_live + 4]
    assert app_line.startswith("    app       http://") and broker_line.startswith("    broker    ")
    assert re.match(r"    database  \S+:3306$", database_line)
    assert "db-password" not in shown.output  # the config store's secret is never printed
