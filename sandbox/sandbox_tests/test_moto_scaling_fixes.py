"""The sandbox's moto takes a stack's Application Auto Scaling (sandbox/sandbox/moto_scaling_fixes.py).

Each assertion fails against moto 5.2.5 without its fix: moto's CloudFormation skipped scalable targets and scaling
policies, raised for a load balancer's ``LoadBalancerFullName`` and had no ``TargetGroupFullName``, and a service
without ``DesiredCount`` ran no task. moto runs in this process here; the fixes are applied for the test only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Literal

import boto3
import pytest
from moto import mock_aws
from moto.cloudformation import parsing
from moto.elbv2.models import FakeLoadBalancer, FakeTargetGroup

from sandbox import moto_ecs_fixes, moto_scaling_fixes

REGION = "eu-west-1"


def template(minimum: int, image: str) -> str:
    service = {"Cluster": {"Ref": "Cluster"}, "ServiceName": "app", "TaskDefinition": {"Ref": "Task"}}
    target = {
        "ServiceNamespace": "ecs",
        "ScalableDimension": "ecs:service:DesiredCount",
        "ResourceId": {"Fn::Sub": "service/${Cluster}/${Service.Name}"},
        "MinCapacity": minimum,
        "MaxCapacity": 4,
    }
    requests = {
        "PredefinedMetricType": "ALBRequestCountPerTarget",
        "ResourceLabel": {"Fn::Sub": "${Balancer.LoadBalancerFullName}/${Targets.TargetGroupFullName}"},
    }
    policy = {
        "PolicyName": "requests",
        "PolicyType": "TargetTrackingScaling",
        "ScalingTargetId": {"Ref": "Target"},
        "TargetTrackingScalingPolicyConfiguration": {"TargetValue": "1000", "PredefinedMetricSpecification": requests},
    }
    return json.dumps(
        {
            "Parameters": {"Subnets": {"Type": "CommaDelimitedList"}, "Vpc": {"Type": "String"}},
            "Resources": {
                "Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": "scaling"}},
                "Task": {
                    "Type": "AWS::ECS::TaskDefinition",
                    "Properties": {
                        "Family": "app",
                        "ContainerDefinitions": [{"Name": "app", "Image": image, "Memory": 512}],
                    },
                },
                "Balancer": {
                    "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
                    "Properties": {"Subnets": {"Ref": "Subnets"}},
                },
                "Targets": {
                    "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
                    "Properties": {"VpcId": {"Ref": "Vpc"}, "Protocol": "HTTP", "Port": 8080, "TargetType": "ip"},
                },
                "Service": {"Type": "AWS::ECS::Service", "Properties": service},
                "Target": {"Type": "AWS::ApplicationAutoScaling::ScalableTarget", "Properties": target},
                "Requests": {"Type": "AWS::ApplicationAutoScaling::ScalingPolicy", "Properties": policy},
            },
        }
    )


@pytest.fixture
def fixed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto in process with the ECS fixes and these (the two models are known to moto's CloudFormation once this
    module is imported: they stand for types moto has no model of)."""
    monkeypatch.setattr(FakeLoadBalancer, "get_cfn_attribute", moto_scaling_fixes.load_balancer_attribute)
    monkeypatch.setattr(FakeTargetGroup, "has_cfn_attr", classmethod(moto_scaling_fixes.target_group_has_attribute))
    monkeypatch.setattr(FakeTargetGroup, "get_cfn_attribute", moto_scaling_fixes.target_group_attribute, raising=False)
    monkeypatch.setattr(moto_ecs_fixes, "_listeners", [])
    for owner, name, patch in moto_ecs_fixes.PATCHES:
        monkeypatch.setattr(owner, name, patch)
    parsing.get_model_map.cache_clear()
    with mock_aws():
        yield


def deploy(kind: Literal["CREATE", "UPDATE"], minimum: int, image: str) -> None:
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]][:2]
    cfn = boto3.client("cloudformation", region_name=REGION)
    parameters: list[Any] = [
        {"ParameterKey": "Subnets", "ParameterValue": ",".join(subnets)},
        {"ParameterKey": "Vpc", "ParameterValue": vpc},
    ]
    name = f"c{minimum}{image[-1]}"
    cfn.create_change_set(
        StackName="scaling",
        ChangeSetName=name,
        ChangeSetType=kind,
        TemplateBody=template(minimum, image),
        Parameters=parameters,
    )
    cfn.execute_change_set(StackName="scaling", ChangeSetName=name)


def desired() -> int:
    services = boto3.client("ecs", region_name=REGION).describe_services(cluster="scaling", services=["app"])
    return int(services["services"][0]["desiredCount"])


def test_a_stack_s_scalable_target_holds_its_service_within_range_and_a_deploy_keeps_the_scaled_count(
    fixed: None,
) -> None:
    # When a stack creates a service without a desired count, and a scalable target of 2 to 4 tasks for it
    deploy("CREATE", 2, "r/app@sha256:1")

    # Then Application Auto Scaling holds the target and its request-count policy, on the load balancer's and target
    # group's full names, and the service (one task, as CloudFormation starts it) was raised to the minimum
    scaling = boto3.client("application-autoscaling", region_name=REGION)
    (target,) = scaling.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]
    assert (target["ResourceId"], target["MinCapacity"], target["MaxCapacity"]) == ("service/scaling/app", 2, 4)
    (policy,) = scaling.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"]
    configuration = policy["TargetTrackingScalingPolicyConfiguration"]
    assert configuration["TargetValue"] == 1000.0
    label = configuration["PredefinedMetricSpecification"]["ResourceLabel"]
    assert label.startswith("app/") and "/targetgroup/" in label
    assert desired() == 2

    # When scaling sets 3 tasks and the next deploy (a new image) changes the stack, the service keeps 3
    boto3.client("ecs", region_name=REGION).update_service(cluster="scaling", service="app", desiredCount=3)
    deploy("UPDATE", 2, "r/app@sha256:2")
    assert desired() == 3

    # When the stage's minimum rises above it, the service follows; and the stack's deletion removes the target
    deploy("UPDATE", 4, "r/app@sha256:2")
    assert desired() == 4
    boto3.client("cloudformation", region_name=REGION).delete_stack(StackName="scaling")
    assert scaling.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"] == []
