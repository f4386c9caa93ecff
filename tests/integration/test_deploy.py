"""deploy-environment and teardown-environment against moto server and the stage registries."""

from __future__ import annotations

import hashlib
import shutil
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from prefect.exceptions import ParameterTypeError

from cloudops import config_store, deploy
from cloudops.aws import cloudformation, rds
from cloudops.aws.session import AccountSession
from cloudops.errors import CloudOpsError, UnknownStageError
from cloudops.release import save_release
from cloudops.release_checks import ReleaseNotPromotedError
from sandbox.sandbox import Sandbox
from tests.ops_helpers import BUILD_BUCKET, OpsApp, default_vpc, stage_options

pytestmark = pytest.mark.slow


def stack_names(account: AccountSession) -> list[tuple[str, str]]:
    summaries = account.client("cloudformation").list_stacks()["StackSummaries"]
    return sorted((s["StackName"], s["StackStatus"]) for s in summaries)


def physical_ids(account: AccountSession, stack: str) -> dict[str, str]:
    resources = account.client("cloudformation").describe_stack_resources(StackName=stack)["StackResources"]
    return {r["LogicalResourceId"]: r.get("PhysicalResourceId", "") for r in resources}


def container_images(account: AccountSession, task_definition: str) -> dict[str, str]:
    found = account.client("ecs").describe_task_definition(taskDefinition=task_definition)["taskDefinition"]
    return {c["name"]: c["image"] for c in found["containerDefinitions"]}


@pytest.mark.reliability(
    "input",
    "a deploy of a release whose images were never promoted into the stage",
    "refused naming the images; no stack touched",
)
def test_a_release_not_in_the_stage_registry_touches_no_stack(sandbox: Sandbox, app: OpsApp) -> None:
    from flows.deploy_and_rollback import deploy_environment

    # An app image no test ever pushes: staging's registry does not have it, whatever was promoted there before
    absent = "sha256:" + hashlib.sha256(uuid.uuid4().bytes).hexdigest()
    release = app.releases[0].model_copy(
        update={
            "version": f"{app.releases[0].version}-absent",
            "images": {
                **app.releases[0].images,
                "app": app.releases[0].images["app"].model_copy(update={"digest": absent}),
            },
        }
    )
    save_release(sandbox.account("build"), BUILD_BUCKET, release)
    staging = sandbox.account("staging")
    before = stack_names(staging)
    with pytest.raises(ReleaseNotPromotedError, match=rf"images not in staging's registry .*app@{absent}.*Promote it"):
        deploy_environment(stage="staging", version=release.version, kind="author-live")
    assert cloudformation.describe(staging, f"{app.name}-staging-author") is None
    assert stack_names(staging) == before


def test_author_live_deploys_then_a_second_deploy_changes_nothing(sandbox: Sandbox, app: OpsApp) -> None:
    from flows.deploy_and_rollback import deploy_environment

    release = app.releases[0]

    app.copy_images(release, "qa", ["app", "broker"])
    first = deploy_environment(stage="qa", version=release.version, kind="author-live")
    assert [(o.stack, o.action, o.executed) for o in first] == [
        (f"{app.name}-qa-author", "create", True),
        (f"{app.name}-qa-live", "create", True),
    ]
    qa = sandbox.account("qa")
    ecs = qa.client("ecs")
    registry = sandbox.state.registries["qa"].address
    for environment in ("author", "live"):
        stack = f"{app.name}-qa-{environment}"
        service = ecs.describe_services(cluster=stack, services=["app"])["services"][0]
        assert container_images(qa, service["taskDefinition"]) == {
            "app": f"{registry}/app@{release.images['app'].digest}"
        }
        # The endpoints reach the config store, each the address of the resource the stack created
        resources = physical_ids(qa, stack)
        database = qa.client("rds").describe_db_instances(DBInstanceIdentifier=resources["Database"])["DBInstances"][0]
        balancer = qa.client("elbv2").describe_load_balancers(LoadBalancerArns=[resources["LoadBalancer"]])
        published = config_store.SsmConfigStore(qa).get(config_store.path("qa", app.name, environment))
        assert published == {
            "app_endpoint": f"http://{balancer['LoadBalancers'][0]['DNSName']}",
            "database_endpoint": database["Endpoint"]["Address"],
            "database_port": str(database["Endpoint"]["Port"]),
            "broker_endpoint": "tcp://broker:1883",
            "cluster": stack,
            "stack": stack,
            "db-password": published["db-password"],  # a SecureString the deploy created, never overwritten
        }
        assert ecs.describe_clusters(clusters=[published["cluster"]])["clusters"][0]["status"] == "ACTIVE"

    again = deploy_environment(stage="qa", version=release.version, kind="author-live")
    assert [(o.action, o.executed) for o in again] == [("update", False), ("update", False)]

    # A new release (only the app image differs: another build of the app): the app task definitions change,
    # nothing else, and the services roll to them (its verification passed, or the deploy would have failed)
    before = {o.stack: physical_ids(qa, o.stack) for o in first}
    later = app.releases[1]
    app.copy_images(later, "qa", ["app"])
    updated = deploy_environment(stage="qa", version=later.version, kind="author-live")
    assert [(o.stack, o.action, o.executed) for o in updated] == [
        (f"{app.name}-qa-author", "update", True),
        (f"{app.name}-qa-live", "update", True),
    ]
    for outcome in updated:
        after = physical_ids(qa, outcome.stack)
        assert {k for k in after if after[k] != before[outcome.stack][k]} == {"AppTaskDefinition"}
        assert (
            outcome.outputs["AppTaskDefinition"]
            == after["AppTaskDefinition"]
            != before[outcome.stack]["AppTaskDefinition"]
        )
        assert container_images(qa, after["AppTaskDefinition"]) == {
            "app": f"{registry}/app@{later.images['app'].digest}"
        }
        assert container_images(qa, after["BrokerTaskDefinition"]) == {
            "broker": f"{registry}/broker@{release.images['broker'].digest}"
        }
        service = ecs.describe_services(cluster=outcome.stack, services=["app"])["services"][0]
        assert service["taskDefinition"] == after["AppTaskDefinition"]
        published = config_store.SsmConfigStore(qa).get(config_store.path("qa", app.name, outcome.environment))
        assert (
            published["database_endpoint"]
            == first[0 if outcome.environment == "author" else 1].outputs["DatabaseEndpoint"]
        )
    assert [(o.action, o.executed) for o in deploy_environment(stage="qa", version=later.version)] == [
        ("update", False),
        ("update", False),
    ]

    # A later release with a new snapshot: the environment keeps its database
    newer = release.model_copy(
        update={
            "snapshots": {
                **release.snapshots,
                "author": release.snapshots["author"].model_copy(
                    update={"arn": release.snapshots["author"].arn + "-later"}
                ),
            },
        }
    )
    (author_plan, _) = deploy.plans(
        "author-live", "qa", "cloudops-qa-222222222222", newer, registry, default_vpc(qa), stage_options(qa, "qa")
    )
    lines: list[str] = []
    kept = deploy.deploy_stack(qa, author_plan, {}, recreate_failed=False, log=lines.append)
    assert kept.executed and kept.action == "update"
    parameters = cloudformation.describe(qa, f"{app.name}-qa-author").parameters  # type: ignore[union-attr]
    # ... the one it was restored from: the stage's own copy of the release's snapshot (same identifier), which the
    # first deploy made under QA's account key
    identifier = release.snapshots["author"].arn.rsplit(":", 1)[-1]
    assert parameters["DbSnapshotIdentifier"] == identifier
    copy = rds.get_snapshot(qa, identifier)
    assert copy is not None and copy.arn.split(":")[4] == "222222222222"
    assert copy.key == stage_options(qa, "qa").key_arn
    assert parameters["AppImage"] == author_plan.parameters["AppImage"]
    assert any("keeping its database" in line for line in lines)


def test_bad_input_is_refused_before_any_stack(app: OpsApp) -> None:
    from flows.deploy_and_rollback import deploy_environment
    from flows.teardown_environment import teardown_environment

    release = app.releases[0]

    with pytest.raises(UnknownStageError, match="unknown stage 'production'"):
        deploy_environment(stage="production", version=release.version)
    with pytest.raises(ParameterTypeError, match="kind: Input should be 'author-live', 'single-instance' or"):
        deploy_environment(stage="qa", version=release.version, kind="lambda")
    with pytest.raises(CloudOpsError, match=rf"releases/{app.name}/no-such-version.json does not exist"):
        deploy_environment(stage="qa", version="no-such-version")
    with pytest.raises(CloudOpsError, match="teardown of stage 'prod' is not allowed by its configuration"):
        teardown_environment(stage="prod", kind="author-live", confirm="prod/author-live")


def test_teardown_needs_the_confirmation_then_deletes(sandbox: Sandbox, app: OpsApp) -> None:
    from flows.deploy_and_rollback import deploy_environment
    from flows.teardown_environment import teardown_environment

    release = app.releases[0]

    app.copy_images(release, "staging", ["app", "broker", "mysql"])
    deploy_environment(stage="staging", version=release.version, kind="single-instance")
    staging = sandbox.account("staging")
    assert cloudformation.describe(staging, f"{app.name}-staging-single-instance") is not None
    store = config_store.SsmConfigStore(staging)
    prefix = config_store.path("staging", app.name, "single-instance")
    published = store.get(prefix)
    assert {k: v for k, v in published.items() if k != "db-password"} == {
        "cluster": f"{app.name}-staging-single-instance",
        "database_endpoint": "127.0.0.1",  # MySQL runs in the task, next to the app
        "database_port": "3306",
        "broker_endpoint": "tcp://127.0.0.1:1883",
        "stack": f"{app.name}-staging-single-instance",
    }
    with pytest.raises(CloudOpsError, match="pass confirm=staging/single-instance; nothing was deleted"):
        teardown_environment(stage="staging", kind="single-instance", confirm="yes")
    assert cloudformation.describe(staging, f"{app.name}-staging-single-instance") is not None
    assert teardown_environment(stage="staging", kind="single-instance", confirm="staging/single-instance") == [
        f"{app.name}-staging-single-instance"
    ]
    assert cloudformation.describe(staging, f"{app.name}-staging-single-instance") is None
    assert store.get(prefix) == {"db-password": published["db-password"]}  # the endpoints are gone


def test_lookup_service_deploys_its_prerequisites_then_the_service_and_tears_down(
    sandbox: Sandbox, app: OpsApp
) -> None:
    from flows.deploy_and_rollback import deploy_environment
    from flows.teardown_environment import teardown_environment

    release = app.releases[0]
    qa = sandbox.account("qa")
    # The lookup stacks are named by stage, not by application: a run before this one (in the same session)
    # leaves the prerequisites (teardown keeps them), unchanged by this deploy
    kept = cloudformation.describe(qa, "lookup-qa-prerequisites") is not None

    app.copy_images(release, "qa", ["app", "mysql"])
    outcomes = deploy_environment(stage="qa", version=release.version, kind="lookup-service")
    assert [(o.stack, o.action, o.executed) for o in outcomes] == [
        ("lookup-qa-prerequisites", "update" if kept else "create", not kept),
        ("lookup-qa", "create", True),
    ]
    prerequisites, service = outcomes
    assert prerequisites.outputs["EnvBucketName"] == "lookup-qa-env-222222222222"  # from the stage's parameter file
    # The service stack runs on the region's ECS-optimised AMI (AWS's public SSM parameter) and mounts the
    # prerequisites' EFS access points
    ami = qa.client("ssm").get_parameter(Name=deploy.ECS_AMI_PARAMETER)["Parameter"]["Value"]
    template = physical_ids(qa, "lookup-qa")["LaunchTemplate"]
    versions = qa.client("ec2").describe_launch_template_versions(LaunchTemplateId=template)["LaunchTemplateVersions"]
    assert versions[0]["LaunchTemplateData"]["ImageId"] == ami
    parameters = cloudformation.describe(qa, "lookup-qa").parameters  # type: ignore[union-attr]
    access_points = {k: parameters[k] for k in ("DatabaseAccessPointId", "AuthoritiesAccessPointId")}
    assert access_points == {k: prerequisites.outputs[k] for k in access_points}
    assert all(ap.startswith("fsap-") for ap in access_points.values())
    assert parameters["FileSystemId"] == prerequisites.outputs["FileSystemId"]
    # NOTE: moto's DescribeTaskDefinition leaves out a volume's efsVolumeConfiguration; on AWS the task
    # definition shows these access points on its database and authorities volumes.
    registry = sandbox.state.registries["qa"].address
    assert container_images(qa, service.outputs["TaskDefinition"]) == {
        "mysql": f"{registry}/mysql@{release.images['mysql'].digest}",
        "app": f"{registry}/app@{release.images['app'].digest}",
    }
    store = config_store.SsmConfigStore(qa)
    published = store.get(config_store.path("qa", app.name, "lookup"))
    balancer = qa.client("elbv2").describe_load_balancers(
        LoadBalancerArns=[physical_ids(qa, "lookup-qa")["LoadBalancer"]]
    )
    assert published == {
        "app_endpoint": f"http://{balancer['LoadBalancers'][0]['DNSName']}",
        "cluster": "lookup-qa",
        "db-password": published["db-password"],  # the MySQL user's, created once by the deploy
        "stack": "lookup-qa",
    }
    # The containers' environment file, written into the prerequisites' bucket when it was missing
    env_file = qa.client("s3").get_object(Bucket=prerequisites.outputs["EnvBucketName"], Key="lookup.env")
    assert "EP_DB_HOSTNAME=mysql" in env_file["Body"].read().decode().splitlines()

    # Teardown deletes the service; the prerequisites (the environment file's bucket, the data on EFS) stay
    assert teardown_environment(stage="qa", kind="lookup-service", confirm="qa/lookup-service") == ["lookup-qa"]
    assert cloudformation.describe(qa, "lookup-qa") is None
    assert store.get(config_store.path("qa", app.name, "lookup")) == {"db-password": published["db-password"]}
    assert cloudformation.describe(qa, "lookup-qa-prerequisites") is not None
    again = deploy_environment(stage="qa", version=release.version, kind="lookup-service")
    assert [(o.stack, o.action, o.executed) for o in again] == [
        ("lookup-qa-prerequisites", "update", False),
        ("lookup-qa", "create", True),
    ]
    assert again[0].outputs == prerequisites.outputs
    # the stack's name is the stage's (not the application's): other tests deploy it too
    teardown_environment(stage="qa", kind="lookup-service", confirm="qa/lookup-service")


@pytest.mark.reliability(
    "fault", "a CloudFormation template that does not validate", "the deploy fails before any stack is touched"
)
def test_a_template_that_does_not_validate_fails_the_deploy_and_touches_nothing(
    sandbox: Sandbox, app: OpsApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.deploy_and_rollback import deploy_environment

    release = app.releases[0]

    # The packaged templates, one of them with a typo in a reference, stand in for a template edited by hand
    shutil.copytree(Path(str(deploy.TEMPLATES)), tmp_path, dirs_exist_ok=True)
    broken = tmp_path / "single-instance.yaml"
    broken.write_text(broken.read_text().replace("Cluster: !Ref Cluster", "Cluster: !Ref Clustr", 1))
    monkeypatch.setattr(deploy, "TEMPLATES", tmp_path)
    app.copy_images(release, "qa", ["app", "broker", "mysql"])

    # NOTE: moto validates with cfn-lint; CloudFormation says "Template format error: Unresolved resource
    # dependencies [Clustr] in the Resources block of the template". Either way the flow stops here.
    with pytest.raises(cloudformation.TemplateError, match=r"template single-instance does not validate: .*Clustr"):
        deploy_environment(stage="qa", version=release.version, kind="single-instance")
    qa = sandbox.account("qa")
    assert cloudformation.describe(qa, f"{app.name}-qa-single-instance") is None
    with pytest.raises(ClientError, match="ParameterNotFound"):  # not even the database password was created
        qa.client("ssm").get_parameter(Name=config_store.path("qa", app.name, "single-instance", "db-password"))
