"""The sandbox's moto tells what its ECS runtime runs (sandbox/sandbox/moto_ecs_fixes.py).

Each assertion fails against moto 5.2.5 without its fix: a stack's service loses its load balancers, stays
on the replaced task definition, and its load balancer's DNS name is an AWS name nothing answers at. The
image here does not exist, so the runtime's tasks fail to start: these tests look at moto's records only.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from cloudops.aws.session import AccountSession
from sandbox.sandbox import Sandbox

TEMPLATE = """
Parameters:
  Image:
    Type: String
  VpcId:
    Type: String
  SubnetIds:
    Type: CommaDelimitedList
Resources:
  Cluster:
    Type: AWS::ECS::Cluster
  Task:
    Type: AWS::ECS::TaskDefinition
    Properties:
      Family: !Sub ${AWS::StackName}-app
      Memory: "512"
      NetworkMode: awsvpc
      ContainerDefinitions:
        - Name: app
          Image: !Ref Image
          Essential: true
          PortMappings:
            - ContainerPort: 8080
  Balancer:
    Type: AWS::ElasticLoadBalancingV2::LoadBalancer
    Properties:
      Subnets: !Ref SubnetIds
  Targets:
    Type: AWS::ElasticLoadBalancingV2::TargetGroup
    Properties:
      VpcId: !Ref VpcId
      Protocol: HTTP
      Port: 8080
      TargetType: ip
  Listener:
    Type: AWS::ElasticLoadBalancingV2::Listener
    Properties:
      LoadBalancerArn: !Ref Balancer
      Port: 80
      Protocol: HTTP
      DefaultActions:
        - Type: forward
          TargetGroupArn: !Ref Targets
  Service:
    Type: AWS::ECS::Service
    DependsOn: Listener
    Properties:
      Cluster: !Ref Cluster
      ServiceName: app
      TaskDefinition: !Ref Task
      DesiredCount: 0
      LoadBalancers:
        - ContainerName: app
          ContainerPort: 8080
          TargetGroupArn: !Ref Targets
      ServiceConnectConfiguration:
        Enabled: true
        Services:
          - PortName: http
            ClientAliases:
              - Port: 8080
                DnsName: app
Outputs:
  Endpoint:
    Value: !Sub http://${Balancer.DNSName}
  Cluster:
    Value: !Ref Cluster
  TaskDefinition:
    Value: !Ref Task
"""


def deploy(account: AccountSession, stack: str, kind: str, image: str) -> dict[str, str]:
    ec2 = account.client("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]]
    cfn = account.client("cloudformation")
    name = f"c{uuid.uuid4().hex[:8]}"
    cfn.create_change_set(
        StackName=stack,
        ChangeSetName=name,
        ChangeSetType=kind,
        TemplateBody=TEMPLATE,
        Parameters=[
            {"ParameterKey": "Image", "ParameterValue": image},
            {"ParameterKey": "VpcId", "ParameterValue": vpc},
            {"ParameterKey": "SubnetIds", "ParameterValue": ",".join(subnets[:2])},
        ],
    )
    cfn.execute_change_set(StackName=stack, ChangeSetName=name)
    found = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])}


def service(account: AccountSession, cluster: str) -> dict[str, Any]:
    found: dict[str, Any] = account.client("ecs").describe_services(cluster=cluster, services=["app"])["services"][0]
    return found


def test_a_stacks_service_keeps_its_load_balancer_whose_name_is_a_loopback_address(sandbox: Sandbox) -> None:
    qa = sandbox.account("qa")
    outputs = deploy(qa, f"ecsfix-{uuid.uuid4().hex[:6]}", "CREATE", "127.0.0.1:1/app@sha256:" + "1" * 64)
    balancers = service(qa, outputs["Cluster"])["loadBalancers"]
    assert [(b["containerName"], int(b["containerPort"])) for b in balancers] == [("app", 8080)]
    assert balancers[0]["targetGroupArn"].startswith("arn:aws:elasticloadbalancing:")
    assert re.fullmatch(r"http://127\.(?!0\.)\d+\.\d+\.\d+", outputs["Endpoint"])


def test_a_replaced_task_definition_moves_the_service_to_a_new_primary_deployment(sandbox: Sandbox) -> None:
    qa = sandbox.account("qa")
    stack = f"ecsfix-{uuid.uuid4().hex[:6]}"
    first = deploy(qa, stack, "CREATE", "127.0.0.1:1/app@sha256:" + "1" * 64)
    before = service(qa, first["Cluster"])
    second = deploy(qa, stack, "UPDATE", "127.0.0.1:1/app@sha256:" + "2" * 64)
    after = service(qa, first["Cluster"])
    assert second["TaskDefinition"] != first["TaskDefinition"]
    assert after["taskDefinition"] == second["TaskDefinition"]
    primary = next(d for d in after["deployments"] if d["status"] == "PRIMARY")
    assert primary["taskDefinition"] == second["TaskDefinition"]
    assert primary["id"] != next(d for d in before["deployments"] if d["status"] == "PRIMARY")["id"]

    # A service running another revision since (updated by hand here; rolled back by the circuit breaker in the
    # runtime) is still its stack's: the next stack update moves it to the stack's new task definition
    ecs = qa.client("ecs")
    ecs.update_service(cluster=first["Cluster"], service="app", taskDefinition=first["TaskDefinition"])
    assert service(qa, first["Cluster"])["taskDefinition"] == first["TaskDefinition"]
    third = deploy(qa, stack, "UPDATE", "127.0.0.1:1/app@sha256:" + "3" * 64)
    assert service(qa, first["Cluster"])["taskDefinition"] == third["TaskDefinition"] != second["TaskDefinition"]


def test_deleting_the_stack_deletes_its_service(sandbox: Sandbox) -> None:
    qa = sandbox.account("qa")
    stack = f"ecsfix-{uuid.uuid4().hex[:6]}"
    outputs = deploy(qa, stack, "CREATE", "127.0.0.1:1/app@sha256:" + "1" * 64)
    assert service(qa, outputs["Cluster"])["status"] == "ACTIVE"
    cfn = qa.client("cloudformation")
    cfn.delete_stack(StackName=stack)
    cfn.get_waiter("stack_delete_complete").wait(StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    ecs = qa.client("ecs")
    try:
        found = ecs.describe_services(cluster=outputs["Cluster"], services=["app"])["services"]
        statuses = [s["status"] for s in found]
    except ecs.exceptions.ClusterNotFoundException:
        statuses = []  # the stack's cluster went with it
    assert statuses in ([], ["INACTIVE"])
