"""The approval form's preview of the next stage's deploy: a change set described, then deleted; nothing changes."""

from __future__ import annotations

import uuid

from cloudops import deploy
from cloudops.aws import cloudformation
from cloudops.images import BuiltImage
from cloudops.release import Release
from sandbox.sandbox import Sandbox
from tests.ops_helpers import default_vpc, stage_options


def a_release(app_digest: str) -> Release:
    return Release(
        application="commerce",
        version=f"preview-{uuid.uuid4().hex[:6]}",
        commit="c" * 40,
        ref="main",
        package_digest="sha256:" + "0" * 64,
        package_uri="s3://bucket/package",
        images={
            name: BuiltImage(name=name, registry="r", digest=digest, inputs="i", rebuilt=False)
            for name, digest in (("app", app_digest), ("broker", "sha256:" + "b" * 64), ("mysql", "sha256:" + "c" * 64))
        },
        snapshots={},
        datasets={},
    )


def test_a_preview_says_what_a_deploy_would_change_and_changes_nothing(sandbox: Sandbox) -> None:
    account = sandbox.account("staging")
    network, options = default_vpc(account), stage_options(account, "staging")
    stack = f"preview-{uuid.uuid4().hex[:8]}"

    def plan(release: Release) -> deploy.StackPlan:
        (single,) = deploy.plans("single-instance", "staging", "bucket", release, "127.0.0.1:5003", network, options)
        return single.model_copy(update={"stack": stack})

    first = a_release("sha256:" + "1" * 64)
    tags = deploy.stack_tags("commerce", "staging", first.version)
    # a stack that does not exist yet: it would be created, and previewing it creates nothing
    created = deploy.preview_stack(account, plan(first), tags)
    assert f"### `{stack}` will be created" in created and "TaskDefinition (AWS::ECS::TaskDefinition)" in created
    assert cloudformation.describe(account, stack) is None

    deploy.deploy_stack(account, plan(first), tags, recreate_failed=False, log=lambda line: None)
    before = cloudformation.describe(account, stack)
    assert deploy.preview_stack(account, plan(first), tags) == f"### `{stack}`: no changes\n"

    # a new app image: the change set shows the task definition's change, then it is gone and the stack as it was
    later = a_release("sha256:" + "2" * 64)
    markdown = deploy.preview_stack(account, plan(later), deploy.stack_tags("commerce", "staging", later.version))
    # NOTE: CloudFormation lists the task definition (Replace) and the service (Modify) here; moto makes the
    # change set but lists no resource for a parameter-only change. How such rows read is tested with
    # Stubber in tests/integration/test_deploy_stack.py.
    assert markdown.startswith("### Change set `cloudops-") and f"of stack `{stack}`" in markdown
    change_sets = account.client("cloudformation").list_change_sets(StackName=stack)["Summaries"]
    assert [c["ChangeSetName"] for c in change_sets if c.get("ExecutionStatus") == "AVAILABLE"] == []
    assert cloudformation.describe(account, stack) == before
