"""The registry of environment kinds: consistent with the templates, and the one source of the flows' `kind`."""

from __future__ import annotations

import pickle
from importlib import resources
from typing import Any

import pytest
from prefect import Flow
from prefect.exceptions import ParameterTypeError

from cloudops import accounts, deploy, environment_kinds
from cloudops.bootstrap import AccountResources
from cloudops.environment_kinds import KINDS, EnvironmentKind, UnknownKindError
from cloudops.errors import CloudOpsError
from cloudops.image_roles import ImageRoles
from cloudops.images import BuiltImage
from cloudops.networks import StageNetwork
from cloudops.release import Release
from cloudops.settings import Stage
from cloudops.snapshots import SnapshotRecord
from tests.bootstrapped import OPTIONS

# A parameter the deploy flow looks up in the stage's account as it deploys (the region's ECS AMI).
LOOKED_UP_AT_DEPLOY = {"EcsAmiId"}
NETWORK = StageNetwork(
    vpc_id="vpc-1",
    vpc_cidr="10.20.0.0/16",
    public_subnets=("subnet-1", "subnet-2"),
    private_subnets=("subnet-3", "subnet-4"),
    public_ip=False,
)


def template(name: str) -> dict[str, Any]:
    return deploy._template(deploy.template_body(name))


def parameters(name: str) -> tuple[set[str], set[str]]:
    return deploy._template_parameters(deploy.template_body(name))


def a_release(image_roles: ImageRoles | None = None) -> Release:
    names = {"app", "broker", "mysql", *(image_roles.model_dump().values() if image_roles else ())}
    return Release(
        application="commerce",
        version="v1",
        commit="c" * 40,
        ref="main",
        package_digest="sha256:" + "0" * 64,
        package_uri="s3://bucket/package",
        images={
            name: BuiltImage(name=name, registry="r", digest=f"sha256:{name}", inputs="i", rebuilt=False)
            for name in names
        },
        snapshots={
            env: SnapshotRecord(
                environment=env,
                identifier=f"commerce-{env}-v1",
                arn=f"arn:aws:rds:eu-west-1:111111111111:snapshot:commerce-{env}-v1",
                shared_with=(),
                created=False,
            )
            for env in ("author", "live")
        },
        datasets={},
        image_roles=image_roles or ImageRoles(),
    )


KIND_PARAMETERS = pytest.mark.parametrize("found", list(KINDS.values()), ids=list(KINDS))


@KIND_PARAMETERS
def test_each_kind_s_templates_are_shipped(found: EnvironmentKind) -> None:
    shipped = {p.name.removesuffix(".yaml") for p in resources.files("cloudops.templates.stacks").iterdir()}
    assert set(found.templates) <= shipped


@KIND_PARAMETERS
def test_each_stack_s_parameters_are_its_template_s_and_none_is_left_out(found: EnvironmentKind) -> None:
    for spec in found.stacks:
        expected, defaulted = parameters(spec.template)
        images = set(found.images.values()) if spec.takes_images else set()
        given = set(spec.parameters) | images | set(spec.inputs)
        assert given <= expected, f"{spec.name}: not in {spec.template}: {sorted(given - expected)}"
        if not spec.parameter_file:  # a parameter file fills the rest
            missing = expected - defaulted - given - LOOKED_UP_AT_DEPLOY
            assert not missing, f"{spec.name}: nothing fills {sorted(missing)}"


@KIND_PARAMETERS
def test_each_kind_s_roles_fill_parameters_of_its_templates(found: EnvironmentKind) -> None:
    with_images = [spec.template for spec in found.stacks if spec.takes_images]
    assert with_images, "a kind runs its images somewhere"
    for parameter in found.images.values():
        assert all(parameter in parameters(name)[0] for name in with_images)


@KIND_PARAMETERS
def test_inputs_are_outputs_of_the_stack_before(found: EnvironmentKind) -> None:
    for before, spec in zip(found.stacks, found.stacks[1:], strict=False):
        outputs = set(template(before.template).get("Outputs") or {})
        assert set(spec.inputs) <= outputs
    assert not found.stacks[0].inputs


@KIND_PARAMETERS
def test_published_outputs_are_outputs_of_its_templates(found: EnvironmentKind) -> None:
    outputs = {key for name in found.templates for key in template(name).get("Outputs") or {}}
    assert set(found.outputs) <= outputs


@KIND_PARAMETERS
def test_snapshots_are_of_its_environments(found: EnvironmentKind) -> None:
    restored = {spec.environment for spec in found.stacks if "snapshot" in spec.parameters.values()}
    assert restored == set(found.snapshots)


def test_stack_names_and_teardown() -> None:
    author, live = ("commerce-qa-author", "author"), ("commerce-qa-live", "live")
    assert deploy.stacks("author-live", "commerce", "qa") == [author, live]
    assert deploy.teardown_stacks("author-live", "commerce", "qa") == [live, author]
    # the lookup service keeps its prerequisites stack (the environment file's bucket, the data's EFS)
    prerequisites, service = ("lookup-qa-prerequisites", "lookup"), ("lookup-qa", "lookup")
    assert deploy.stacks("lookup-service", "commerce", "qa") == [prerequisites, service]
    assert deploy.teardown_stacks("lookup-service", "commerce", "qa") == [service]
    assert accounts.CONFIG_FILES == ("author.env", "live.env", "single-instance-mysql-container.env")
    assert [k for k in KINDS if KINDS[k].chained] == ["lookup-service"]


def test_plans_fill_the_registry_s_parameters() -> None:
    release = a_release()
    author, live = deploy.plans("author-live", "qa", "bucket", release, "host", NETWORK, OPTIONS)
    assert author.parameters == {
        "Application": "commerce",
        "Stage": "qa",
        "Environment": "author",
        "VpcId": "vpc-1",
        "PublicSubnetIds": "subnet-1,subnet-2",
        "PrivateSubnetIds": "subnet-3,subnet-4",
        "AssignPublicIp": "DISABLED",
        "DbSnapshotIdentifier": release.snapshots["author"].arn,
        "DbName": "commerce_author",
        "DbPasswordParameter": "/cloudops/qa/commerce/author/db-password",
        "ConfigBucket": "bucket",
        "MultiAZ": "false",
        "DeletionProtection": "false",
        "AccountKeyArn": OPTIONS.key_arn,
        "MinTasks": "2",
        "MaxTasks": "4",
        "CertificateArn": "",
        "Domain": "",
        "HostedZoneId": "",
        "LogBucket": OPTIONS.log_bucket,
        "MonitoringRoleArn": OPTIONS.monitoring_role_arn,
        "AppImage": "host/app@sha256:app",
        "BrokerImage": "host/broker@sha256:broker",
    }
    assert live.parameters["DbSnapshotIdentifier"] == release.snapshots["live"].arn
    protected = OPTIONS.model_copy(update={"multi_az": True, "deletion_protection": True})
    (author, _) = deploy.plans("author-live", "prod", "bucket", release, "host", NETWORK, protected)
    assert (author.parameters["MultiAZ"], author.parameters["DeletionProtection"]) == ("true", "true")
    prerequisites, service = deploy.plans("lookup-service", "qa", "bucket", release, "host", NETWORK, OPTIONS)
    assert prerequisites.parameter_file == "lookup-prerequisites.json"  # and the network:
    assert prerequisites.parameters == {
        "AWSVpcId": "vpc-1",
        "PrivateSubnetIds": "subnet-3,subnet-4",
        "LogBucket": OPTIONS.log_bucket,
    }
    assert service.parameters == {
        "Stage": "qa",
        "AWSVpcId": "vpc-1",
        "VpcCidr": "10.20.0.0/16",
        "PrivateSubnetIds": "subnet-3,subnet-4",
        "DbPasswordParameter": "/cloudops/qa/commerce/lookup/db-password",
        "AccountKeyArn": OPTIONS.key_arn,
        "CertificateArn": "",
        "Domain": "",
        "HostedZoneId": "",
        "LogBucket": OPTIONS.log_bucket,
        "AppImage": "host/app@sha256:app",
        "MysqlImage": "host/mysql@sha256:mysql",
    }
    assert "FileSystemId" in service.inputs


CERTIFICATE = "arn:aws:acm:eu-west-1:444444444444:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


def test_a_stage_with_tls_gives_its_environments_its_certificate_domain_and_task_range() -> None:
    bootstrap = AccountResources(OPTIONS.key_arn, OPTIONS.log_bucket, OPTIONS.monitoring_role_arn)
    https = Stage(
        account_id="444444444444",
        region="eu-west-1",
        credential_block="aws-prod",
        bucket="cloudops-prod-bucket",
        certificate_arn=CERTIFICATE,
        domain="prod.example.com",
        hosted_zone_id="Z0123456789ABCDEFGHIJ",
        min_tasks=3,
        max_tasks=12,
    )
    (author, _) = deploy.plans(
        "author-live", "prod", "bucket", a_release(), "host", NETWORK, deploy.stage_options(https, bootstrap)
    )
    given = {
        key: author.parameters[key] for key in ("CertificateArn", "Domain", "HostedZoneId", "MinTasks", "MaxTasks")
    }
    assert given == {
        "CertificateArn": CERTIFICATE,
        "Domain": "prod.example.com",
        "HostedZoneId": "Z0123456789ABCDEFGHIJ",
        "MinTasks": "3",
        "MaxTasks": "12",
    }
    # tls = false: plain HTTP, whatever certificate the stage still names
    plain = deploy.stage_options(https.model_copy(update={"tls": False}), bootstrap)
    (author, _) = deploy.plans("author-live", "prod", "bucket", a_release(), "host", NETWORK, plain)
    assert (author.parameters["CertificateArn"], author.parameters["Domain"]) == ("", "prod.example.com")


def test_a_plan_for_an_account_without_its_bootstrap_s_log_bucket_is_refused() -> None:
    with pytest.raises(
        CloudOpsError, match="stage qa's access-log bucket is unknown: run `cloudops accounts bootstrap qa`"
    ):
        deploy.plans(
            "author-live", "qa", "bucket", a_release(), "host", NETWORK, OPTIONS.model_copy(update={"log_bucket": ""})
        )


def test_plans_take_each_role_s_image_from_the_release_s_roles() -> None:
    release = a_release(ImageRoles(app="shop", broker="mq", database="mariadb"))
    (single,) = deploy.plans("single-instance", "qa", "bucket", release, "host", NETWORK, OPTIONS)
    assert single.parameters["AppImage"] == "host/shop@sha256:shop"
    assert single.parameters["BrokerImage"] == "host/mq@sha256:mq"
    assert single.parameters["MysqlImage"] == "host/mariadb@sha256:mariadb"
    assert KINDS["single-instance"].image_names(release.image_roles) == ["shop", "mq", "mariadb"]


def test_a_release_without_a_role_s_image_or_snapshot_is_refused_by_name() -> None:
    release = a_release(ImageRoles(database="mariadb"))
    without = release.model_copy(update={"images": {k: v for k, v in release.images.items() if k != "mariadb"}})
    with pytest.raises(CloudOpsError, match=r"has no image 'mariadb' \(its database image\)"):
        deploy.plans("lookup-service", "qa", "bucket", without, "host", NETWORK, OPTIONS)
    no_snapshots = release.model_copy(update={"snapshots": {}})
    with pytest.raises(CloudOpsError, match="has no snapshot of author's database"):
        deploy.plans("author-live", "qa", "bucket", no_snapshots, "host", NETWORK, OPTIONS)


def test_a_kind_is_refused_for_a_release_without_an_image_it_runs_and_the_others_are_not() -> None:
    release = a_release()
    lookup_only = release.model_copy(update={"images": {k: v for k, v in release.images.items() if k != "broker"}})
    assert deploy.kind_images(lookup_only, KINDS["lookup-service"]) == ["app", "mysql"]
    for kind in ("author-live", "single-instance"):
        with pytest.raises(environment_kinds.MissingImageError) as refused:
            deploy.kind_images(lookup_only, KINDS[kind])
        assert str(refused.value) == (
            f"kind {kind} runs a broker image ('broker'), and release commerce@v1 has none; add it to "
            "application.dockerfiles (then build a release), or deploy another kind"
        )


def test_an_old_release_record_has_the_default_roles() -> None:
    record = a_release().model_dump(mode="json")
    del record["image_roles"]
    assert Release.model_validate(record).image_roles == ImageRoles(app="app", broker="broker", database="mysql")


def test_an_unknown_kind_lists_the_kinds_and_survives_pickling() -> None:
    with pytest.raises(UnknownKindError) as caught:
        environment_kinds.kind("lambda")
    message = "unknown kind of environment 'lambda'; use one of author-live, single-instance, lookup-service"
    assert str(caught.value).startswith(message)
    again = pickle.loads(pickle.dumps(caught.value))
    assert isinstance(again, UnknownKindError) and str(again) == str(caught.value)
    with pytest.raises(UnknownKindError):
        deploy.plans("lambda", "qa", "bucket", a_release(), "host", NETWORK, OPTIONS)
    assert environment_kinds.names_text() == "author-live, single-instance or lookup-service"


def test_the_flows_kind_parameter_is_an_enum_of_the_registry_s_names() -> None:
    from flows.await_approval import await_approval
    from flows.deploy_and_rollback import deploy_environment, rollback
    from flows.promote import promote
    from flows.release import release
    from flows.teardown_environment import teardown_environment

    names = list(KINDS)
    flows: list[tuple[Flow[..., Any], str]] = [
        (deploy_environment, "kind"),
        (rollback, "kind"),
        (teardown_environment, "kind"),
        (release, "deploy_kind"),
        (promote, "deploy_kind"),
        (await_approval, "deploy_kind"),
    ]
    for flow, parameter in flows:
        schema = flow.parameters.model_dump()["properties"][parameter]
        enums = [s["enum"] for s in (schema.get("anyOf") or [schema]) if "enum" in s]
        assert enums == [names], f"{flow.name}.{parameter}: {schema}"
    with pytest.raises(ParameterTypeError, match="kind: Input should be 'author-live', 'single-instance' or"):
        deploy_environment.validate_parameters({"stage": "qa", "kind": "lambda"})


def test_the_app_reads_the_database_its_release_s_snapshot_holds() -> None:
    """Not a name shared by the stage: a second application in it reads its own data (the load bench found every
    application reading commerce_author, from the stage's environment file)."""
    release = a_release().model_copy(update={"application": "shop"})
    kept = {env: snapshot.model_copy(update={"database": f"shop_{env}"}) for env, snapshot in release.snapshots.items()}
    copied = release.model_copy(
        update={"snapshots": {**kept, "author": kept["author"].model_copy(update={"database": "commerce_author"})}}
    )
    author, live = deploy.plans("author-live", "qa", "bucket", copied, "host", NETWORK, OPTIONS)
    assert (author.parameters["DbName"], live.parameters["DbName"]) == ("commerce_author", "shop_live")
    (single,) = deploy.plans("single-instance", "qa", "bucket", copied, "host", NETWORK, OPTIONS)
    assert single.parameters["DbName"] == "commerce_author"  # the MySQL image holds the author data sets' database
    # a record from before the snapshot's database was kept: the name the build gives it
    author, _ = deploy.plans("author-live", "qa", "bucket", release, "host", NETWORK, OPTIONS)
    assert author.parameters["DbName"] == "shop_author"


def test_only_the_plans_of_environments_restored_from_a_snapshot_get_the_stage_s_database_password() -> None:
    release = a_release()
    for kind, expected in (("author-live", ["author", "live"]), ("single-instance", []), ("lookup-service", [])):
        plans = deploy.plans(kind, "qa", "bucket", release, "host", NETWORK, OPTIONS)
        assert [plan.environment for plan in deploy.restored(plans, environment_kinds.kind(kind))] == expected
