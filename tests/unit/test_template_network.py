"""The stack templates' network, read from the templates themselves (NOTE: moto models no network: a security group
rule that would block a connection on AWS blocks nothing in the sandbox, so these rules are checked here): load
balancers in the public subnets, everything else in the private ones; each connection an environment makes is
admitted by the security group of its target, from the security group of its source, and by nothing wider; and no
template holds a CIDR block of its own."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode

from cloudops import environment_kinds

TEMPLATES = Path(__file__).resolve().parents[2] / "cloudops" / "templates" / "stacks"
CIDR = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}/\d{1,2}\b")
ANYWHERE = "0.0.0.0/0"


def template(name: str) -> dict[str, Any]:
    decoded, problems = decode(str(TEMPLATES / f"{name}.yaml"))
    assert decoded is not None, problems
    return dict(decoded)


def ref(value: object) -> str:
    assert isinstance(value, dict) and set(value) == {"Ref"}, value
    return str(value["Ref"])


def admitted(resources: dict[str, Any], group: str, port: int | str) -> list[str]:
    """Who security group ``group`` admits on TCP ``port`` (a number, or the parameter that gives it), by its own
    rules and by rules of their own (the HTTPS port's, where the stage has TLS): source groups by name, CIDR blocks as
    they stand."""
    rules = [
        *resources[group]["Properties"].get("SecurityGroupIngress", []),
        *(
            resource["Properties"]
            for resource in resources.values()
            if resource["Type"] == "AWS::EC2::SecurityGroupIngress"
            and resource["Properties"]["GroupId"] == {"Ref": group}
        ),
    ]
    found = []
    for rule in rules:
        low, high = rule["FromPort"], rule["ToPort"]
        if isinstance(port, str):
            matches = low == high == {"Ref": port}
        else:
            matches = isinstance(low, int) and isinstance(high, int) and low <= port <= high
        if rule["IpProtocol"] == "tcp" and matches:
            found.append(ref(rule["SourceSecurityGroupId"]) if "SourceSecurityGroupId" in rule else str(rule["CidrIp"]))
    return found


def service_groups(resources: dict[str, Any], service: str) -> list[str]:
    configuration = resources[service]["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]
    return [ref(group) for group in configuration["SecurityGroups"]]


@pytest.mark.parametrize("name", sorted(p.stem for p in TEMPLATES.glob("*.yaml")))
def test_no_template_holds_a_cidr_block_but_the_internet_s(name: str) -> None:
    text = (TEMPLATES / f"{name}.yaml").read_text()
    assert [found for found in CIDR.findall(text) if found != ANYWHERE] == []


def test_author_live_chains_its_security_groups_from_the_load_balancer_to_the_database() -> None:
    resources = template("author-live")["Resources"]
    assert admitted(resources, "LoadBalancerSecurityGroup", 80) == [ANYWHERE]
    assert admitted(resources, "LoadBalancerSecurityGroup", 443) == [ANYWHERE]
    assert service_groups(resources, "AppService") == ["ServiceSecurityGroup"]
    assert admitted(resources, "ServiceSecurityGroup", "AppPort") == ["LoadBalancerSecurityGroup"]
    # the app reaches the broker (MQTT) and the database (MySQL); nothing else does
    assert service_groups(resources, "BrokerService") == ["BrokerSecurityGroup"]
    assert admitted(resources, "BrokerSecurityGroup", 1883) == ["ServiceSecurityGroup"]
    assert admitted(resources, "DatabaseSecurityGroup", 3306) == ["ServiceSecurityGroup"]
    assert resources["Database"]["Properties"]["PubliclyAccessible"] is False


def test_author_live_puts_only_its_load_balancer_in_the_public_subnets() -> None:
    resources = template("author-live")["Resources"]
    assert ref(resources["LoadBalancer"]["Properties"]["Subnets"]) == "PublicSubnetIds"
    assert ref(resources["DatabaseSubnetGroup"]["Properties"]["SubnetIds"]) == "PrivateSubnetIds"
    for service in ("AppService", "BrokerService"):
        configuration = resources[service]["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]
        assert ref(configuration["Subnets"]) == "PrivateSubnetIds"
        assert ref(configuration["AssignPublicIp"]) == "AssignPublicIp"
    assert template("author-live")["Parameters"]["AssignPublicIp"]["Default"] == "DISABLED"


def test_the_lookup_service_s_file_system_admits_nfs_from_its_container_instances_only() -> None:
    prerequisites = template("lookup-prerequisites")
    resources = prerequisites["Resources"]
    assert admitted(resources, "MountTargetSecurityGroup", 2049) == ["FileSystemClientSecurityGroup"]
    for target in ("MountTargetA", "MountTargetB"):
        subnet = resources[target]["Properties"]["SubnetId"]
        assert subnet["Fn::Select"][1] == {"Ref": "PrivateSubnetIds"}
    assert ref(prerequisites["Outputs"]["FileSystemClientSecurityGroupId"]["Value"]) == "FileSystemClientSecurityGroup"
    # the service's container instances (where ECS mounts the volumes) carry that group, wired by the deploy
    service = template("lookup-service")["Resources"]
    instance_groups = service["LaunchTemplate"]["Properties"]["LaunchTemplateData"]["SecurityGroupIds"]
    assert [ref(group) for group in instance_groups] == ["InstanceSecurityGroup", "FileSystemClientSecurityGroupId"]
    (_, spec) = environment_kinds.kind("lookup-service").stacks
    assert "FileSystemClientSecurityGroupId" in spec.inputs
    # its internal load balancer is reached from inside the VPC, the block the stage's network names
    assert ref(service["LoadBalancerSecurityGroup"]["Properties"]["SecurityGroupIngress"][0]["CidrIp"]) == "VpcCidr"
    assert ref(service["LoadBalancerHttpsIngress"]["Properties"]["CidrIp"]) == "VpcCidr"
    assert service["LoadBalancer"]["Properties"]["Scheme"] == "internal"
    assert ref(service["AutoScalingGroup"]["Properties"]["VPCZoneIdentifier"]) == "PrivateSubnetIds"
