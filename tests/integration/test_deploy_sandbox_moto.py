"""The sandbox's moto server behaves as CloudFormation where the deploy relies on it (sandbox/sandbox/moto_fixes.py).

Without the fixes each assertion below fails against moto 5.2.5; if a moto upgrade breaks the fixes (they
reach into its models), these tests say so before the deploy tests do.
"""

from __future__ import annotations

import uuid

from cloudops.aws.session import AccountSession
from sandbox.sandbox import Sandbox

TEMPLATE = """
Parameters:
  Image:
    Type: String
Resources:
  Cluster:
    Type: AWS::ECS::Cluster
  Task:
    Type: AWS::ECS::TaskDefinition
    Properties:
      Family: !Sub ${AWS::StackName}-app
      Memory: "512"
      ContainerDefinitions:
        - Name: app
          Image: !Ref Image
          Essential: true
  Files:
    Type: AWS::EFS::FileSystem
  Data:
    Type: AWS::EFS::AccessPoint
    Properties:
      FileSystemId: !Ref Files
Outputs:
  TaskDefinition:
    Value: !Ref Task
  AccessPointId:
    Value: !Ref Data
"""


def run_change_set(account: AccountSession, stack: str, kind: str, image: str) -> dict[str, str]:
    cfn = account.client("cloudformation")
    name = f"c{uuid.uuid4().hex[:8]}"
    cfn.create_change_set(
        StackName=stack,
        ChangeSetName=name,
        ChangeSetType=kind,
        TemplateBody=TEMPLATE,
        Parameters=[{"ParameterKey": "Image", "ParameterValue": image}],
    )
    cfn.execute_change_set(StackName=stack, ChangeSetName=name)
    found = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])}


def image_of(account: AccountSession, task_definition: str) -> str:
    found = account.client("ecs").describe_task_definition(taskDefinition=task_definition)["taskDefinition"]
    return str(found["containerDefinitions"][0]["image"])


def test_a_change_set_gives_the_stack_its_outputs_and_updates_the_task_definition(moto_sandbox: Sandbox) -> None:
    qa = moto_sandbox.account("qa")
    stack = f"fixes-{uuid.uuid4().hex[:6]}"
    created = run_change_set(qa, stack, "CREATE", "r/app@sha256:1")
    assert set(created) == {"TaskDefinition", "AccessPointId"}
    assert created["AccessPointId"].startswith("fsap-")
    assert image_of(qa, created["TaskDefinition"]) == "r/app@sha256:1"

    updated = run_change_set(qa, stack, "UPDATE", "r/app@sha256:2")
    assert updated["TaskDefinition"] != created["TaskDefinition"]  # a new revision, and the outputs follow it
    assert image_of(qa, updated["TaskDefinition"]) == "r/app@sha256:2"
    assert updated["AccessPointId"] == created["AccessPointId"]


CONDITIONAL = """
Parameters:
  Domain:
    Type: String
    Default: ""
Conditions:
  HasDomain: !Not [!Equals [!Ref Domain, ""]]
Resources:
  Alias:
    Type: AWS::SNS::Topic
    Condition: HasDomain
  Topic:
    Type: AWS::SNS::Topic
"""


def test_a_resource_left_out_by_its_condition_is_not_among_the_stack_s_resources(moto_sandbox: Sandbox) -> None:
    cfn = moto_sandbox.account("qa").client("cloudformation")
    stack = f"fixes-{uuid.uuid4().hex[:6]}"
    cfn.create_change_set(StackName=stack, ChangeSetName="c1", ChangeSetType="CREATE", TemplateBody=CONDITIONAL)
    cfn.execute_change_set(StackName=stack, ChangeSetName="c1")
    listed = cfn.describe_stack_resources(StackName=stack)["StackResources"]
    assert [r["LogicalResourceId"] for r in listed] == ["Topic"]
    found = cfn.describe_stack_resource(StackName=stack, LogicalResourceId="Topic")["StackResourceDetail"]
    assert found["PhysicalResourceId"].startswith("arn:aws:sns:")
