"""The CloudFormation templates: each passes cfn-lint and creates in moto server."""

from __future__ import annotations

import subprocess
import sys
import uuid
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from cloudops import deploy
from cloudops.aws.session import AccountSession
from cloudops.bootstrap import account_resources
from sandbox.sandbox import Sandbox
from tests.ops_helpers import default_vpc

TEMPLATES = ["author-live", "single-instance", "lookup-prerequisites", "lookup-service"]
DIGEST = "sha256:" + "ab" * 32
CFN_LINT = str(Path(sys.executable).parent / "cfn-lint")


def template(name: str) -> str:
    return resources.files("cloudops.templates.stacks").joinpath(f"{name}.yaml").read_text()


@pytest.mark.parametrize("name", TEMPLATES)
def test_each_template_passes_cfn_lint(name: str) -> None:
    with resources.as_file(resources.files("cloudops.templates.stacks").joinpath(f"{name}.yaml")) as path:
        result = subprocess.run([CFN_LINT, str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_catches_a_broken_template(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(template("single-instance").replace("Type: AWS::ECS::Service", "Type: AWS::ECS::Servise"))
    result = subprocess.run([CFN_LINT, str(broken)], capture_output=True, text=True, check=False)
    assert result.returncode != 0 and "AWS::ECS::Servise" in result.stdout


def create(account: AccountSession, name: str, stack: str, parameters: dict[str, str]) -> dict[str, str]:
    cfn = account.client("cloudformation")
    cfn.create_stack(
        StackName=stack,
        TemplateBody=template(name),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    cfn.get_waiter("stack_create_complete").wait(StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    assert described["StackStatus"] == "CREATE_COMPLETE"
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def service_image(account: AccountSession, cluster: str, service: str, container: str) -> str:
    ecs = account.client("ecs")
    task_definition = ecs.describe_services(cluster=cluster, services=[service])["services"][0]["taskDefinition"]
    containers: list[dict[str, Any]] = ecs.describe_task_definition(taskDefinition=task_definition)["taskDefinition"][
        "containerDefinitions"
    ]
    return str(next(c["image"] for c in containers if c["name"] == container))


def test_author_live_creates_with_the_release_digests(sandbox: Sandbox) -> None:
    qa = sandbox.account("qa")
    network = default_vpc(qa)
    suffix = uuid.uuid4().hex[:6]
    rds = qa.client("rds")
    rds.create_db_instance(
        DBInstanceIdentifier=f"src-{suffix}",
        Engine="mysql",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="cloudops",
        MasterUserPassword="x" * 16,
    )
    rds.create_db_snapshot(DBInstanceIdentifier=f"src-{suffix}", DBSnapshotIdentifier=f"snap-{suffix}")
    # NOTE: real deploys pass the build account's snapshot ARN, shared with this account; moto's
    # restore of another account's snapshot by ARN fails, so this test restores one of QA's own.
    application = f"t{suffix}"
    outputs = create(
        qa,
        "author-live",
        f"{application}-qa-author",
        {
            "Application": application,
            "Stage": "qa",
            "Environment": "author",
            "AppImage": f"127.0.0.1:5002/app@{DIGEST}",
            "BrokerImage": f"127.0.0.1:5002/broker@{DIGEST}",
            "DbSnapshotIdentifier": f"snap-{suffix}",
            "DbName": f"{application}_author",
            "DbPasswordParameter": "/cloudops/qa/author/db-password",
            "ConfigBucket": "cloudops-qa-222222222222",
            "AccountKeyArn": account_resources(qa, "qa").key_arn,
            "LogBucket": account_resources(qa, "qa").log_bucket,
            "MonitoringRoleArn": account_resources(qa, "qa").monitoring_role_arn,
            "VpcId": network.vpc_id,
            "PublicSubnetIds": ",".join(network.public_subnets),
            "PrivateSubnetIds": ",".join(network.private_subnets),
            "AssignPublicIp": network.assign_public_ip,
        },
    )
    assert outputs["ClusterName"] == f"{application}-qa-author"
    assert outputs["AppEndpoint"].startswith("http://") and outputs["DatabaseEndpoint"]
    assert service_image(qa, outputs["ClusterName"], "app", "app") == f"127.0.0.1:5002/app@{DIGEST}"
    assert service_image(qa, outputs["ClusterName"], "broker", "broker") == f"127.0.0.1:5002/broker@{DIGEST}"


def test_single_instance_creates_one_task_of_three_containers(sandbox: Sandbox) -> None:
    qa = sandbox.account("qa")
    network = default_vpc(qa)
    application = f"t{uuid.uuid4().hex[:6]}"
    outputs = create(
        qa,
        "single-instance",
        f"{application}-qa-single",
        {
            "Application": application,
            "Stage": "qa",
            "AppImage": f"r/app@{DIGEST}",
            "BrokerImage": f"r/broker@{DIGEST}",
            "MysqlImage": f"r/mysql@{DIGEST}",
            "DbName": f"{application}_author",
            "DbPasswordParameter": "/cloudops/qa/dev/db-password",
            "ConfigBucket": "cloudops-qa-222222222222",
            "AccountKeyArn": account_resources(qa, "qa").key_arn,
            "VpcId": network.vpc_id,
            "VpcCidr": network.vpc_cidr,
            "PrivateSubnetIds": ",".join(network.private_subnets),
            "AssignPublicIp": network.assign_public_ip,
        },
    )
    for container in ("app", "broker", "mysql"):
        assert service_image(qa, outputs["ClusterName"], "single-instance", container) == f"r/{container}@{DIGEST}"


def test_the_lookup_service_stacks_create_from_a_stage_parameter_file(sandbox: Sandbox) -> None:
    staging = sandbox.account("staging")
    network = default_vpc(staging)
    values = deploy.lookup_prerequisites("lookup-prerequisites.json", "staging", "333333333333")
    assert values["S3BucketName"] == "lookup-staging-env-333333333333"  # ${account_id} filled in
    log_bucket = account_resources(staging, "staging").log_bucket
    values |= {
        "AWSVpcId": network.vpc_id,
        "PrivateSubnetIds": ",".join(network.private_subnets),
        "LogBucket": log_bucket,
    }
    prerequisites = create(
        staging, "lookup-prerequisites", f"lookup-staging-prerequisites-{uuid.uuid4().hex[:4]}", values
    )
    assert prerequisites["EnvBucketName"] == "lookup-staging-env-333333333333"
    assert prerequisites["FileSystemId"] and prerequisites["DatabaseAccessPointId"]

    ami = staging.client("ec2").describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    outputs = create(
        staging,
        "lookup-service",
        f"lookup-staging-{uuid.uuid4().hex[:4]}",
        {
            "Stage": "staging",
            "AWSVpcId": network.vpc_id,
            "VpcCidr": network.vpc_cidr,
            "PrivateSubnetIds": ",".join(network.private_subnets),
            "AppImage": f"r/lookup@{DIGEST}",
            "MysqlImage": f"r/mysql@{DIGEST}",
            "EnvBucketName": prerequisites["EnvBucketName"],
            "FileSystemId": prerequisites["FileSystemId"],
            "DatabaseAccessPointId": prerequisites["DatabaseAccessPointId"],
            "AuthoritiesAccessPointId": prerequisites["AuthoritiesAccessPointId"],
            "AccountKeyArn": account_resources(staging, "staging").key_arn,
            "LogBucket": log_bucket,
            "FileSystemClientSecurityGroupId": prerequisites["FileSystemClientSecurityGroupId"],
            "EcsAmiId": ami,
            "DbPasswordParameter": "/cloudops/staging/lookup/lookup/db-password",
        },
    )
    assert service_image(staging, outputs["ClusterName"], "lookup", "app") == f"r/lookup@{DIGEST}"
    assert outputs["AppEndpoint"].startswith("http://")  # the load balancer's address
    fill = staging.client("ecs").describe_task_definition(taskDefinition=outputs["AuthoritiesFillTaskDefinition"])
    assert [c["image"] for c in fill["taskDefinition"]["containerDefinitions"]] == [f"r/lookup@{DIGEST}"]
