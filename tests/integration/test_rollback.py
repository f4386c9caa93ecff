"""rollback: the release a stage ran before, redeployed through deploy-environment, checked and recorded."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cloudops import audit
from cloudops.aws import cloudformation
from cloudops.gates.rollback import NothingToRollBackError, RollbackRefusedError
from cloudops.release import save_release
from sandbox.sandbox import Sandbox
from tests.app_variants import app_variant
from tests.ops_helpers import BUILD_BUCKET, OpsApp, verified

pytestmark = pytest.mark.slow


@pytest.fixture
def ops_app(app: OpsApp) -> OpsApp:
    """The application fixture (tests/fixtures.py) under another name: these tests import the CLI's ``app``."""
    return app


def app_image(sandbox: Sandbox, stack: str, stage: str) -> str:
    described = cloudformation.describe(sandbox.account(stage), stack)
    assert described is not None
    return described.parameters["AppImage"]


def test_rollback_redeploys_the_previous_release_and_records_it(sandbox: Sandbox, ops_app: OpsApp) -> None:
    from cli.main import app
    from flows.deploy_and_rollback import deploy_environment, rollback

    first, second = ops_app.releases
    runner = CliRunner()
    # nothing deployed: a clear error, nothing touched
    refused = runner.invoke(app, ["rollback", "qa"])
    assert refused.exit_code == 1
    assert "nothing of kind author-live is deployed in qa: there is nothing to roll back" in refused.output
    assert ops_app.trail() == []

    # NOTE: moto compares an update change set with the parameters the stack was created with (not its current
    # ones), so going back to the creating release looks like "no changes" there; real CloudFormation compares
    # with the current parameters. The stack is created here by a third release, so the rollback's update shows.
    zero = ops_app.another_release("ops0", app_variant(sandbox, ops_app.built, f"{ops_app.built.version}-ops0"))
    ops_app.copy_images(zero, "qa", ["app"])
    ops_app.copy_images(first, "qa", ["app", "broker"])
    ops_app.copy_images(second, "qa", ["app"])
    deploy_environment(stage="qa", version=zero.version, kind="author-live")
    with pytest.raises(NothingToRollBackError, match=f"runs release {zero.version} and has no earlier release"):
        rollback(stage="qa")
    deploy_environment(stage="qa", version=first.version, kind="author-live")
    deploy_environment(stage="qa", version=second.version, kind="author-live")
    stack = f"{ops_app.name}-qa-author"
    assert app_image(sandbox, stack, "qa").endswith(second.images["app"].digest)

    done = runner.invoke(app, ["rollback", "qa", "--kind", "author-live", "--reason", "app 500s after 1.0.2"])
    assert done.exit_code == 0, done.output
    assert f"qa (author-live) rolled back from {second.version} to {first.version}" in done.output
    assert app_image(sandbox, stack, "qa").endswith(first.images["app"].digest)
    assert app_image(sandbox, f"{ops_app.name}-qa-live", "qa").endswith(first.images["app"].digest)

    *deploys, entry = [e for e in ops_app.trail() if e.kind != "verification"]
    checked = [(e.version, e.outcome) for e in ops_app.trail() if isinstance(e, audit.VerificationEntry)]
    assert checked == [(e.version, "verified") for e in deploys]  # each deploy, the rollback's too
    assert [(e.kind, e.version) for e in deploys] == [
        ("deploy", zero.version),
        ("deploy", first.version),
        ("deploy", second.version),
        ("deploy", first.version),
    ]
    assert isinstance(entry, audit.RollbackEntry)
    assert (entry.kind, entry.version, entry.stage) == ("rollback", first.version, "qa")
    assert entry.rolled_back_from == second.version and entry.comment == "app 500s after 1.0.2"
    assert entry.actor and not entry.actor.startswith("flow-run:")  # the person who ran the command
    assert entry.digests == {"app": first.images["app"].digest, "broker": first.images["broker"].digest}
    assert isinstance(deploys[-1], audit.DeployEntry) and list(deploys[-1].stacks.values()).count(True) == 2

    # the release rolled back from is not a target any more: the one before is now the first release
    shown = runner.invoke(app, ["status"])
    assert f"qa (author-live): {first.version}, deployed" in shown.output
    assert f"rolled back from {second.version}" in shown.output
    assert f"  previous  {zero.version} (deployed" in shown.output


@pytest.mark.reliability(
    "input", "a rollback to a release whose images are gone or that was rejected since", "refused; nothing touched"
)
def test_rollback_refuses_a_target_that_is_gone_or_no_longer_approved(sandbox: Sandbox, ops_app: OpsApp) -> None:
    from flows.deploy_and_rollback import deploy_environment, rollback

    first, second = ops_app.releases
    build = sandbox.account("build")
    # a release deployed long ago whose app image has since left staging's registry
    gone = first.model_copy(
        update={
            "version": f"{first.version}-gone",
            "images": {
                **first.images,
                "app": first.images["app"].model_copy(update={"digest": "sha256:" + "9" * 64}),
            },
        }
    )
    save_release(build, BUILD_BUCKET, gone)
    audit.record(
        build,
        BUILD_BUCKET,
        audit.DeployEntry(
            application=ops_app.name,
            version=gone.version,
            stage="staging",
            actor="flow-run:old",
            digests={"app": gone.images["app"].digest},
            deploy_kind="single-instance",
        ),
    )
    for release in (gone, first, second):
        ops_app.verified(release, "qa", "single-instance")
        ops_app.approve(release, "qa", "qa.lead@example.com")
    ops_app.copy_images(first, "staging", ["app", "broker", "mysql"])
    ops_app.copy_images(second, "staging", ["app"])
    deploy_environment(stage="staging", version=first.version, kind="single-instance")
    stack = f"{ops_app.name}-staging-single-instance"

    with pytest.raises(
        RollbackRefusedError,
        match=rf"cannot roll back staging \(single-instance\) from {first.version} to {gone.version}: .*"
        r"images not in staging's registry .*app@sha256:9999.*no stack was touched",
    ):
        rollback(stage="staging", kind="single-instance")
    assert app_image(sandbox, stack, "staging").endswith(first.images["app"].digest)

    deploy_environment(stage="staging", version=second.version, kind="single-instance")
    # QA later rejects the release staging would go back to: a rollback must not bypass that decision
    ops_app.approve(first, "qa", "security@example.com", decision="rejected")
    with pytest.raises(RollbackRefusedError, match=r"qa has its last decision is 'rejected'.*nothing was touched"):
        rollback(stage="staging", kind="single-instance")
    assert app_image(sandbox, stack, "staging").endswith(second.images["app"].digest)
    assert [e.kind for e in ops_app.trail()].count("rollback") == 0
    # ... nor one QA no longer verifies (its last verification there failed)
    ops_app.approve(first, "qa", "security@example.com")
    verified(sandbox, first, "qa", "single-instance", passed=False)
    with pytest.raises(RollbackRefusedError, match=r"its last verification in qa \(single-instance\) failed"):
        rollback(stage="staging", kind="single-instance")
    ops_app.verified(first, "qa", "single-instance")  # verified again

    entry = rollback(stage="staging", kind="single-instance", started_by="oncall@example.com")
    assert (entry.version, entry.rolled_back_from, entry.actor) == (first.version, second.version, "oncall@example.com")
    # NOTE: the stack's parameters are not checked here: moto compares the update with the parameters the stack
    # was created with (this release's), so it lists no change; the first test shows a rollback's update.
    assert ops_app.trail()[-1] == entry
