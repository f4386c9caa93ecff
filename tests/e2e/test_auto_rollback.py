"""A deploy that fails its verification rolls its stage back by itself, on the sandbox's running environments: an
app that exits at start, one whose /health names another build, and a release whose change breaks a smoke check
are each rolled back to the release the stage ran before (verified in turn), which is what answers afterwards;
the trail holds both verifications and the rollback; the release run stops there and nobody is asked to approve.
A first deploy that fails has nothing to roll back to, and a stage may turn the rollback off: the run says so."""

from __future__ import annotations

import re
import uuid

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
from typer.testing import CliRunner

from cloudops import audit
from cloudops.aws import cloudformation
from cloudops.gates.verified import VerificationFailedError
from cloudops.release import Release
from sandbox.sandbox import Sandbox
from tests.app_source import ReleaseSource, git
from tests.app_variants import app_variant
from tests.http_answers import get_json
from tests.ops_helpers import BUILD_BUCKET, OpsApp

pytestmark = pytest.mark.slow


def endpoints(sandbox: Sandbox, application: str, stage: str) -> dict[str, str]:
    """The stage's Author and Live application endpoints, from their stacks' outputs."""
    found = {}
    for environment in ("author", "live"):
        described = cloudformation.describe(sandbox.account(stage), f"{application}-{stage}-{environment}")
        assert described is not None
        found[environment] = described.outputs["AppEndpoint"]
    return found


def health(urls: dict[str, str]) -> dict[str, tuple[int, str, str]]:
    """What each environment's /health answers now: status, version and commit."""
    answers = {}
    for environment, url in urls.items():
        status, body = get_json(f"{url}/health")
        answers[environment] = (status, str(body.get("version")), str(body.get("commit")))
    return answers


def entries(app: OpsApp, after: int) -> list[tuple[str, str, str]]:
    """The trail's entries since the first ``after``: kind, version and a verification's outcome."""
    return [(e.kind, e.version, outcome_of(e)) for e in app.trail()[after:]]


def outcome_of(entry: audit.AuditEntry) -> str:
    """A verification's outcome; nothing for the other kinds."""
    return entry.outcome if isinstance(entry, audit.VerificationEntry) else ""


def rolled_back(app: OpsApp, release: Release, failure: str) -> list[tuple[str, str, str]]:
    """Deploy ``release`` to QA, which must fail its verification with a message matching ``failure``; the
    entries it added to the trail."""
    from flows.deploy_and_rollback import deploy_environment

    before = len(app.trail())
    with pytest.raises(VerificationFailedError, match=failure):
        deploy_environment(stage="qa", version=release.version, kind="author-live")
    return entries(app, before)


@pytest.mark.reliability(
    "fault",
    "a deployed release whose tasks crash, or that answers with a stale commit",
    "its verification fails and the stage is rolled back to the release before, both recorded",
)
def test_a_deploy_that_fails_verification_is_rolled_back_to_the_release_before(
    sandbox: Sandbox, app: OpsApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.deploy_and_rollback import deploy_environment

    first = app.releases[0]
    version = app.built.version
    # both of the crashing release's services fail: whichever the check reaches first is the one named
    either_service = rf"{re.escape(app.name)}-qa-(author|live)/app"
    # Given a release whose app exits as soon as it starts
    crashing = app.another_release("crashing", app_variant(sandbox, app.built, f"{version}-crashing", ["false"]))
    app.copy_images(crashing, "qa", ["app", "broker"])
    # When it is the stage's first deploy, then it fails, and with nothing to roll back to the run says so
    with pytest.raises(
        VerificationFailedError,
        match=r"there is nothing to roll back to \(no earlier release of author-live there\): qa stays as it is",
    ):
        deploy_environment(stage="qa", version=crashing.version, kind="author-live")
    assert [e.kind for e in app.trail()] == ["deploy", "verification"]

    # Given the first release deployed over it, verified, answering
    app.copy_images(first, "qa", ["app"])
    deploy_environment(stage="qa", version=first.version, kind="author-live")
    urls = endpoints(sandbox, app.name, "qa")
    running = {env: (200, version, first.commit) for env in urls}  # the first release's image: the session's build
    assert health(urls) == running
    # When it is deployed, then its verification fails on the circuit breaker, and the stage is rolled back
    failed = rf"{re.escape(crashing.id)} failed its verification in qa \(author-live\): steady: {either_service}: .*; "
    added = rolled_back(app, crashing, failed + rf"rolled back to {re.escape(first.version)}, which passed its")
    # And the first release is what answers, and what the trail says runs
    assert health(urls) == running
    assert added == [
        ("deploy", crashing.version, ""),
        ("verification", crashing.version, "verification-failed"),
        ("deploy", first.version, ""),
        ("verification", first.version, "verified"),
        ("rollback", first.version, ""),
    ]
    rollback = app.trail()[-1]
    assert re.match(rf"automatic, after verification failed: steady: {either_service}", rollback.comment)
    assert isinstance(rollback, audit.RollbackEntry) and rollback.rolled_back_from == crashing.version

    # Given a release whose image is of another build (its /health names another commit than the release's)
    stale = app.another_release("stale", app_variant(sandbox, app.built, f"{version}-stale", commit="0" * 40))
    app.copy_images(stale, "qa", ["app"])
    # When it is deployed, then its /health check fails, naming what came back, and it is rolled back too
    added = rolled_back(
        app,
        stale,
        rf"smoke author: /health: GET http://\S+/health: commit is '0{{40}}', expected '{first.commit}'"
        rf".*; rolled back to {re.escape(first.version)}",
    )
    assert health(urls) == running
    assert [(kind, v) for kind, v, _ in added][-1] == ("rollback", first.version)

    # And the stage shows the first release, verified, with nothing to go back to but what it ran before
    from cli.main import app as cli

    shown = CliRunner().invoke(cli, ["status"])
    assert f"qa (author-live): {first.version}, deployed" in shown.output
    assert f"rolled back from {stale.version}" in shown.output
    assert "  checks    verified at " in shown.output

    # A stage with auto_rollback = false keeps the failed release's stack for a person to look at
    monkeypatch.setenv("CLOUDOPS_STAGES__QA__AUTO_ROLLBACK", "false")
    with pytest.raises(VerificationFailedError, match=r"not rolled back \(qa has auto_rollback = false\)"):
        deploy_environment(stage="qa", version=crashing.version, kind="author-live")
    assert app.trail()[-1].kind == "verification"  # no rollback after it
    described = cloudformation.describe(sandbox.account("qa"), f"{app.name}-qa-author")
    assert described is not None and described.parameters["AppImage"].endswith(crashing.images["app"].digest)


def test_a_release_whose_change_breaks_a_smoke_check_stops_rolled_back_and_nobody_is_asked(
    sandbox: Sandbox, release_env: ReleaseSource, release: Release
) -> None:
    from flows.deploy_and_rollback import deploy_environment
    from flows.promote import promote
    from flows.release import ReleaseStoppedError
    from flows.release import release as release_flow

    # Given QA running the session's release, verified
    promote(version=release.version, to_stage="qa")
    deploy_environment(stage="qa", version=release.version, kind="author-live")
    urls = endpoints(sandbox, release.application, "qa")
    # And a change on a branch that sorts the products the other way (Author's draft product is no longer first)
    branch = f"sorted-{uuid.uuid4().hex[:6]}"
    repo = release_env.repo
    git(repo, "checkout", "-q", "-b", branch)
    try:
        server = repo / "app" / "server.py"
        server.write_text(server.read_text().replace("ORDER BY sku", "ORDER BY sku DESC"))
        git(repo, "commit", "-q", "-am", "List the newest products first")
    finally:
        git(repo, "checkout", "-q", "main")
    started = len(audit.entries(sandbox.account("build"), BUILD_BUCKET, release.application))

    # When it is released towards staging, then QA's verification fails on that check and QA is rolled back;
    # the run stops there, naming the check and the rollback, with no approval asked
    with pytest.raises(
        ReleaseStoppedError,
        match=r"stopped in qa: .* failed its verification in qa \(author-live\): smoke author: author products: "
        rf".*products.0.sku is 'TSHIRT-1', expected 'DRAFT-1'.*; rolled back to {re.escape(release.version)}",
    ):
        release_flow(
            ref=branch,
            to_stage="staging",
            approval_timeout_seconds=120,
            approval_poll_seconds=1,
        )
    trail = audit.entries(sandbox.account("build"), BUILD_BUCKET, release.application)[started:]
    broken = next(e.version for e in trail if e.kind == "deploy")
    assert broken != release.version
    assert [(e.kind, e.stage, e.version == broken, outcome_of(e)) for e in trail] == [
        ("release", "build", True, ""),  # its record, vouched for as build-release wrote it
        ("promotion", "qa", True, ""),
        ("deploy", "qa", True, ""),
        ("verification", "qa", True, "verification-failed"),
        ("deploy", "qa", False, ""),
        ("verification", "qa", False, "verified"),
        ("rollback", "qa", False, ""),
    ]
    with get_client(sync_client=True) as client:
        asked = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(like_="-approval-qa")))
    assert not [r for r in asked if r.parameters.get("version") == broken]
    # And the session's release is what answers: its build, and Author's draft product first again
    for url in urls.values():
        status, body = get_json(f"{url}/health")
        assert (status, body.get("commit")) == (200, release.commit)
    status, body = get_json(f"{urls['author']}/products")
    assert status == 200 and body["products"][0]["sku"] == "DRAFT-1"
