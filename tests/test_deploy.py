"""deploy-environment and teardown-environment against moto server and the stage registries."""

from __future__ import annotations

import pytest
from prefect.exceptions import ParameterTypeError

from cloudops import config_store, deploy
from cloudops.aws import cloudformation
from cloudops.errors import CloudOpsError, UnknownStageError
from cloudops.image_copy import copy_image
from cloudops.registry import RegistryClient
from cloudops.release import Release
from cloudops.release_checks import ReleaseNotPromotedError
from cloudops.sandbox.sandbox import Sandbox
from tests.conftest import ReleaseSource

pytestmark = pytest.mark.slow


def copy_images(sandbox: Sandbox, release: Release, to_stage: str, names: list[str]) -> None:
    """Test set-up standing in for the promote flow (which needs approvals): copy by digest, build to stage."""
    source, target = sandbox.state.registries["build"], sandbox.state.registries[to_stage]
    with (
        RegistryClient(source.login()) as reader,
        RegistryClient(target.login()) as writer,
    ):
        for name in names:
            copy_image(reader, name, writer, name, release.images[name].digest)


def test_a_release_not_in_the_stage_registry_touches_no_stack(
    sandbox: Sandbox, release_env: ReleaseSource, release: Release
) -> None:
    from flows.deploy_environment import deploy_environment

    with pytest.raises(
        ReleaseNotPromotedError, match=r"images not in staging's registry .*app@sha256:.*Promote it first"
    ):
        deploy_environment(stage="staging", version=release.version, kind="author-live")
    staging = sandbox.account("staging")
    assert cloudformation.describe(staging, "commerce-staging-author") is None
    assert staging.client("cloudformation").list_stacks()["StackSummaries"] == []


def test_author_live_deploys_then_a_second_deploy_changes_nothing(
    sandbox: Sandbox, release_env: ReleaseSource, release: Release
) -> None:
    from flows.deploy_environment import deploy_environment

    copy_images(sandbox, release, "qa", ["app", "broker"])
    first = deploy_environment(stage="qa", version=release.version, kind="author-live")
    assert [(o.stack, o.action, o.executed) for o in first] == [
        ("commerce-qa-author", "create", True),
        ("commerce-qa-live", "create", True),
    ]
    qa = sandbox.account("qa")
    ecs = qa.client("ecs")
    for environment in ("author", "live"):
        service = ecs.describe_services(cluster=f"commerce-qa-{environment}", services=["app"])["services"][0]
        containers = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
        image = containers["containerDefinitions"][0]["image"]
        assert image == f"{sandbox.state.registries['qa'].address}/app@{release.images['app'].digest}"
        published = config_store.SsmConfigStore(qa).get(config_store.path("qa", "commerce", environment))
        assert published["stack"] == f"commerce-qa-{environment}"
        assert "db-password" in published  # created as a SecureString, never overwritten
        # NOTE: moto gives a stack created through a CREATE change set no Outputs; real CloudFormation does,
        # and then database_endpoint, broker_endpoint and app_endpoint are published here too.

    again = deploy_environment(stage="qa", version=release.version, kind="author-live")
    assert [(o.action, o.executed) for o in again] == [("update", False), ("update", False)]

    # A later release with a new image and a new snapshot: the environment keeps its database
    later = release.model_copy(
        update={
            "images": {**release.images, "app": release.images["broker"]},
            "snapshots": {
                **release.snapshots,
                "author": release.snapshots["author"].model_copy(
                    update={"arn": release.snapshots["author"].arn + "-later"}
                ),
            },
        }
    )
    (author_plan, _) = deploy.plans(
        "author-live",
        "qa",
        "cloudops-qa-222222222222",
        later,
        sandbox.state.registries["qa"].address,
        deploy.default_network(qa),
    )
    lines: list[str] = []
    updated = deploy.deploy_stack(qa, author_plan, {}, recreate_failed=False, log=lines.append)
    assert updated.executed and updated.action == "update"
    parameters = cloudformation.describe(qa, "commerce-qa-author").parameters  # type: ignore[union-attr]
    assert parameters["DbSnapshotIdentifier"] == release.snapshots["author"].arn
    assert parameters["AppImage"] == author_plan.parameters["AppImage"]
    assert any("keeping its database" in line for line in lines)


def test_bad_input_is_refused_before_any_stack(sandbox: Sandbox, release_env: ReleaseSource, release: Release) -> None:
    from flows.deploy_environment import deploy_environment
    from flows.teardown_environment import teardown_environment

    with pytest.raises(UnknownStageError, match="unknown stage 'production'"):
        deploy_environment(stage="production", version=release.version)
    with pytest.raises(ParameterTypeError, match="kind: Input should be 'author-live', 'single-instance' or"):
        deploy_environment(stage="qa", version=release.version, kind="lambda")  # type: ignore[call-overload]
    with pytest.raises(CloudOpsError, match=r"releases/commerce/no-such-version.json does not exist"):
        deploy_environment(stage="qa", version="no-such-version")
    with pytest.raises(CloudOpsError, match="teardown of stage 'prod' is not allowed by its configuration"):
        teardown_environment(stage="prod", kind="author-live", confirm="prod/author-live")


def test_teardown_needs_the_confirmation_then_deletes(
    sandbox: Sandbox, release_env: ReleaseSource, release: Release
) -> None:
    from flows.deploy_environment import deploy_environment
    from flows.teardown_environment import teardown_environment

    copy_images(sandbox, release, "staging", ["app", "broker", "mysql"])
    deploy_environment(stage="staging", version=release.version, kind="single-instance")
    staging = sandbox.account("staging")
    assert cloudformation.describe(staging, "commerce-staging-single-instance") is not None
    with pytest.raises(CloudOpsError, match="pass confirm=staging/single-instance; nothing was deleted"):
        teardown_environment(stage="staging", kind="single-instance", confirm="yes")
    assert cloudformation.describe(staging, "commerce-staging-single-instance") is not None
    assert teardown_environment(stage="staging", kind="single-instance", confirm="staging/single-instance") == [
        "commerce-staging-single-instance"
    ]
    assert cloudformation.describe(staging, "commerce-staging-single-instance") is None
