"""cloudops status: the pure reading of the audit trail, and the command against a real deploy."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from cloudops import audit
from cloudops.audit import AuditEntry
from cloudops.gates.rollback import NothingToRollBackError, rollback_target
from cloudops.release import Release
from cloudops.release_status import release_status, status_text
from cloudops.trail import Trail
from sandbox.sandbox import Sandbox
from tests.ops_helpers import OpsApp

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
STAGES = ["qa", "staging", "prod"]


def digest(n: int) -> str:
    return "sha256:" + f"{n:x}" * 64


def deployed(
    version: str, stage: str, minute: int, kind: str = "author-live", rollback_from: str | None = None
) -> AuditEntry:
    fields = {
        "application": "commerce",
        "version": version,
        "stage": stage,
        "at": T0 + timedelta(minutes=minute),
        "digests": {"app": digest(int(version[-1])), "broker": digest(9)},
        "deploy_kind": kind,
        "flow_run_id": "abc",
    }
    if rollback_from:
        return audit.RollbackEntry(**fields, actor="ops@example.com", rolled_back_from=rollback_from)
    snapshots = (f"commerce-author-{version}", f"commerce-live-{version}")
    return audit.DeployEntry(**fields, actor="flow-run:abc", snapshots=snapshots)


def checked(version: str, stage: str, minute: int, passed: bool, digests: dict[str, str] | None = None) -> AuditEntry:
    entry = deployed(version, stage, minute)
    return audit.VerificationEntry(
        **entry.model_dump(include={"application", "version", "stage", "at", "actor", "flow_run_id"}),
        digests=digests or entry.digests,
        comment="verified: 10 checks passed" if passed else "verification failed: smoke live: /products | 503",
        deploy_kind="author-live",
        outcome=audit.VERIFIED if passed else audit.VERIFICATION_FAILED,
    )


def decided(version: str, stage: str, minute: int, decision: audit.Decision, actor: str) -> AuditEntry:
    return audit.ApprovalEntry(
        application="commerce",
        version=version,
        stage=stage,
        at=T0 + timedelta(minutes=minute),
        actor=actor,
        decision=decision,
        ticket="QA-1",
    )


def test_each_stage_shows_its_release_its_approval_and_the_one_before() -> None:
    trail = [
        deployed("1.0.1", "qa", 1),
        decided("1.0.1", "qa", 2, "approved", "ann@example.com"),
        deployed("1.0.1", "staging", 3),
        deployed("1.0.2", "qa", 4),
        deployed("1.0.2", "qa", 5),  # a redeploy of the same release is not a new one
        checked("1.0.2", "qa", 5, passed=False),
        checked("1.0.2", "qa", 6, passed=True),  # its last verification counts
        deployed("1.0.1", "staging", 6, kind="single-instance"),
        decided("1.0.1", "staging", 7, "rejected", "bob@example.com"),
        checked("1.0.1", "staging", 8, passed=True, digests={"app": digest(7)}),  # of other digests
    ]
    qa, staging, prod = release_status(Trail(trail), STAGES, {"prod"})

    (row,) = qa.kinds
    assert (row.kind, row.current.version, row.current.at) == ("author-live", "1.0.2", T0 + timedelta(minutes=4))
    assert row.current.digests == {"app": digest(2), "broker": digest(9)}
    assert row.approval == "awaiting approval" and row.approved_by is None
    assert row.previous is not None and row.previous.version == "1.0.1"
    assert row.verification == "verified at 2026-11-01 09:06 UTC: 10 checks passed"

    assert [(r.kind, r.current.version, r.previous) for r in staging.kinds] == [
        ("author-live", "1.0.1", None),
        ("single-instance", "1.0.1", None),
    ]
    assert staging.kinds[0].approval == "rejected by bob@example.com (QA-1) at 2026-11-01 09:07 UTC"
    assert staging.kinds[0].verification == "not verified (no verification recorded for these digests)"
    assert prod.kinds == []

    text = status_text([qa, staging, prod])
    assert "qa (author-live): 1.0.2, deployed 2026-11-01 09:04 UTC by flow-run:abc" in text
    assert f"  app      {digest(2)}" in text
    assert "  previous  1.0.1 (deployed 2026-11-01 09:01 UTC)" in text
    assert "  previous  none (nothing to roll back to)" in text
    assert "  checks    verified at 2026-11-01 09:06 UTC: 10 checks passed" in text
    failed = release_status(Trail([*trail, checked("1.0.2", "qa", 9, passed=False)]), ["qa"], set())
    assert "  checks    FAILED at 2026-11-01 09:09 UTC: smoke live: /products | 503" in status_text(failed)
    assert "prod: nothing deployed" in text


def test_approval_wording_for_approved_timed_out_and_the_last_stage() -> None:
    trail = [
        deployed("1.0.1", "qa", 1),
        decided("1.0.1", "qa", 2, "approved", "ann@example.com"),
        deployed("1.0.1", "staging", 3),
        decided("1.0.1", "staging", 4, "timed-out", "(nobody)"),
        deployed("1.0.1", "prod", 5),
    ]
    qa, staging, prod = release_status(Trail(trail), STAGES, {"prod"})
    assert qa.kinds[0].approval == "approved by ann@example.com (QA-1) at 2026-11-01 09:02 UTC"
    assert qa.kinds[0].approved_by == "ann@example.com"
    assert staging.kinds[0].approval.startswith("timed out")
    assert prod.kinds[0].approval == "not needed (the last stage)"


def test_a_rollback_pops_back_so_a_second_one_goes_further_back() -> None:
    trail = [
        deployed("1.0.1", "qa", 1),
        deployed("1.0.2", "qa", 2),
        deployed("1.0.3", "qa", 3),
        deployed("1.0.2", "qa", 4),  # the rollback's own deploy
        deployed("1.0.2", "qa", 5, rollback_from="1.0.3"),
    ]
    deployed_now = Trail(trail).history("qa", "author-live")
    assert [d.version for d in deployed_now] == ["1.0.1", "1.0.2"]
    assert deployed_now[-1].rolled_back_from == "1.0.3"
    assert deployed_now[-1].at == T0 + timedelta(minutes=4)  # when it was deployed again
    current, target = rollback_target(Trail(trail), "qa", "author-live")
    assert (current.version, target.version) == ("1.0.2", "1.0.1")

    trail += [deployed("1.0.1", "qa", 6), deployed("1.0.1", "qa", 7, rollback_from="1.0.2")]
    with pytest.raises(NothingToRollBackError, match=r"qa \(author-live\) runs release 1.0.1 and has no earlier"):
        rollback_target(Trail(trail), "qa", "author-live")
    (qa,) = release_status(Trail(trail), ["qa"], set())
    assert "rolled back from 1.0.2" in status_text([qa])

    # deploying the rolled-back-from release again on purpose makes it current, with 1.0.1 before it
    trail.append(deployed("1.0.3", "qa", 8))
    assert [d.version for d in Trail(trail).history("qa", "author-live")] == ["1.0.1", "1.0.3"]


def test_nothing_deployed_is_a_clear_error_for_a_rollback() -> None:
    with pytest.raises(NothingToRollBackError, match="nothing of kind single-instance is deployed in qa"):
        rollback_target(Trail([deployed("1.0.1", "qa", 1)]), "qa", "single-instance")


@pytest.fixture
def ops_app(app: OpsApp) -> OpsApp:
    """The application fixture (tests/fixtures.py) under another name: these tests import the CLI's ``app``."""
    return app


@pytest.mark.slow
def test_a_real_deploy_is_recorded_and_the_command_shows_it(
    sandbox: Sandbox, ops_app: OpsApp, release: Release
) -> None:
    from cli.main import app
    from flows.deploy_and_rollback import deploy_environment

    first, _ = ops_app.releases
    ops_app.copy_images(first, "qa", ["app", "broker", "mysql"])
    outcomes = deploy_environment(stage="qa", version=first.version, kind="single-instance")

    (entry,) = [e for e in ops_app.trail() if e.kind == "deploy"]
    assert isinstance(entry, audit.DeployEntry)
    assert (entry.version, entry.stage, entry.deploy_kind) == (first.version, "qa", "single-instance")
    assert entry.digests == {n: first.images[n].digest for n in ("app", "broker", "mysql")}
    assert entry.stacks == {outcomes[0].stack: True}
    assert entry.flow_run_id and entry.actor == f"flow-run:{entry.flow_run_id}"
    ops_app.approve(first, "qa", "ann@example.com")

    runner = CliRunner()
    shown = runner.invoke(app, ["status"])
    assert shown.exit_code == 0, shown.output
    assert f"qa (single-instance): {first.version}, deployed " in shown.output
    assert f"  mysql    {first.images['mysql'].digest}" in shown.output
    assert "  approval  approved by ann@example.com" in shown.output
    assert "  checks    verified at " in shown.output
    assert "staging: nothing deployed" in shown.output and "prod: nothing deployed" in shown.output
    assert "build" not in shown.output.split("\n", 2)[2]  # the build stage deploys nothing

    as_json = runner.invoke(app, ["status", "--json"])
    assert as_json.exit_code == 0, as_json.output
    stages = json.loads(as_json.output)
    assert [s["stage"] for s in stages] == ["qa", "staging", "prod"]
    (row,) = stages[0]["kinds"]
    assert row["current"]["version"] == first.version and row["approved_by"] == "ann@example.com"
    assert row["previous"] is None and stages[1]["kinds"] == []


def test_a_torn_down_environment_is_no_longer_deployed_nor_a_rollback_target() -> None:
    from cloudops.audit import teardown_entry

    gone = teardown_entry("commerce", "qa", "author-live", ["commerce-qa-author"], "ops@example.com", "run")
    trail = [deployed("1.1", "qa", 1), deployed("1.2", "qa", 2), gone.model_copy(update={"at": T0 + timedelta(3)})]
    assert Trail(trail).history("qa", "author-live") == []
    (qa, _, _) = release_status(Trail(trail), STAGES, {"prod"})
    assert qa.kinds == []
    assert "qa: nothing deployed" in status_text(release_status(Trail(trail), STAGES, {"prod"}))
    with pytest.raises(NothingToRollBackError, match="nothing of kind author-live is deployed in qa"):
        rollback_target(Trail(trail), "qa", "author-live")
    # deployed again afterwards: that release is current, and has nothing before it
    again = [*trail, deployed("1.3", "qa", 5000)]
    assert [d.version for d in Trail(again).history("qa", "author-live")] == ["1.3"]
