"""One stack's deploy: bad plans fail before any stack; a new release's change set, as CloudFormation lists it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from cloudops import deploy
from cloudops.aws import cloudformation
from cloudops.aws.session import AccountSession
from cloudops.errors import CloudOpsError
from cloudops.images import BuiltImage
from cloudops.networks import StageNetwork
from cloudops.policies import execution_role_arn
from cloudops.release import Release
from cloudops.snapshots import SnapshotRecord
from sandbox.sandbox import Sandbox
from tests.bootstrapped import OPTIONS
from tests.ops_helpers import default_vpc, stage_options


def release(digest: str) -> Release:
    images = {
        name: BuiltImage(name=name, registry="r", digest=digest, inputs="i", tags=("v",), rebuilt=False)
        for name in ("app", "broker", "mysql")
    }
    snapshots = {
        env: SnapshotRecord(
            environment=env,
            identifier=f"commerce-{env}-v",
            arn=f"arn:aws:rds:eu-west-1:111111111111:snapshot:commerce-{env}-v",
            shared_with=("222222222222",),
            created=False,
        )
        for env in ("author", "live")
    }
    return Release(
        application="commerce",
        version="v",
        commit="c" * 40,
        ref="main",
        package_digest="sha256:p",
        package_uri="s3://b/k",
        images=images,
        snapshots=snapshots,
        datasets={},
    )


def test_a_plan_missing_a_parameter_touches_no_stack(sandbox: Sandbox) -> None:
    qa = sandbox.account("qa")
    (plan, _) = deploy.plans(
        "author-live",
        "qa",
        "bucket",
        release("sha256:" + "1" * 64),
        "127.0.0.1:5002",
        default_vpc(qa),
        stage_options(qa, "qa"),
    )
    stack = f"t{uuid.uuid4().hex[:6]}"
    parameters = {k: v for k, v in plan.parameters.items() if k != "DbSnapshotIdentifier"}
    broken = plan.model_copy(update={"stack": stack, "parameters": {**parameters, "Colour": "blue"}})
    with pytest.raises(
        CloudOpsError,
        match=r"template author-live needs parameters DbSnapshotIdentifier; "
        r"has no parameters Colour; nothing was deployed",
    ):
        deploy.deploy_stack(qa, broken, {}, recreate_failed=False, log=lambda line: None)
    assert cloudformation.describe(qa, stack) is None


def test_a_new_release_changes_the_task_definitions_and_their_services_only(monkeypatch: pytest.MonkeyPatch) -> None:
    # NOTE: moto lists no changes for a parameter-only update and leaves the service on the old task
    # definition (the new revision itself is tested end to end in test_deploy.py); real CloudFormation lists
    # the task definition's replacement (a new revision) and the service that uses it modified, as stubbed here.
    # A call the stubs do not answer goes to a closed loopback port, never to AWS.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="y", region_name="eu-west-1")
    account = AccountSession("222222222222", "eu-west-1", session)
    network = StageNetwork(
        vpc_id="vpc-1",
        vpc_cidr="10.0.0.0/16",
        public_subnets=("subnet-1", "subnet-2"),
        private_subnets=(),
        public_ip=False,
    )
    (plan, _) = deploy.plans("author-live", "qa", "bucket", release("sha256:" + "2" * 64), "r", network, OPTIONS)
    now = datetime.now(UTC)
    stack: dict[str, Any] = {
        "Stacks": [
            {
                "StackName": plan.stack,
                "StackStatus": "UPDATE_COMPLETE",
                "CreationTime": now,
                # the environment's database, restored from the stage's copy of the first release's snapshot
                "Parameters": [{"ParameterKey": "DbSnapshotIdentifier", "ParameterValue": "commerce-author-1-0-0"}],
                "Outputs": [{"OutputKey": "ClusterName", "OutputValue": "commerce-qa-author"}],
            }
        ]
    }
    changes = [
        {
            "Type": "Resource",
            "ResourceChange": {
                "Action": "Modify",
                "LogicalResourceId": "AppTaskDefinition",
                "ResourceType": "AWS::ECS::TaskDefinition",
                "Replacement": "True",
                "Details": [{"Target": {"Attribute": "Properties", "Name": "ContainerDefinitions"}}],
            },
        },
        {
            "Type": "Resource",
            "ResourceChange": {
                "Action": "Modify",
                "LogicalResourceId": "AppService",
                "ResourceType": "AWS::ECS::Service",
                "Replacement": "False",
                "Details": [{"Target": {"Attribute": "Properties", "Name": "TaskDefinition"}}],
            },
        },
    ]
    stubber = Stubber(account.client("cloudformation"))
    stubber.add_response("validate_template", {"Parameters": []}, {"TemplateBody": ANY})
    stubber.add_response("describe_stacks", stack, {"StackName": plan.stack})
    stubber.add_response(
        "create_change_set",
        {"Id": "arn:cs", "StackId": "arn:s"},
        {
            "StackName": plan.stack,
            "ChangeSetName": ANY,
            "ChangeSetType": "UPDATE",
            "TemplateBody": ANY,
            "Parameters": ANY,
            "Tags": [],
            "Capabilities": ANY,
            "RoleARN": execution_role_arn(account.account_id),
        },
    )
    stubber.add_response(
        "describe_change_set",
        {"Status": "CREATE_COMPLETE", "ChangeSetName": "cs", "StackName": plan.stack, "Changes": changes},
        {"StackName": plan.stack, "ChangeSetName": ANY},
    )
    stubber.add_response("execute_change_set", {}, {"StackName": plan.stack, "ChangeSetName": ANY})
    stubber.add_response("describe_stacks", stack, {"StackName": plan.stack})  # the waiter
    stubber.add_response("describe_stacks", stack, {"StackName": plan.stack})
    shown: list[str] = []
    with stubber:
        outcome = deploy.deploy_stack(
            account, plan, {}, recreate_failed=False, log=lambda line: None, show_change_set=shown.append
        )
        stubber.assert_no_pending_responses()
    assert outcome.executed and outcome.action == "update"
    assert [(c.logical_id, c.replaces) for c in outcome.changes] == [("AppTaskDefinition", True), ("AppService", False)]
    assert "**Will replace: AppTaskDefinition**" in shown[0]
    assert outcome.outputs == {"ClusterName": "commerce-qa-author"}
    assert plan.parameters["AppImage"] == "r/app@sha256:" + "2" * 64
