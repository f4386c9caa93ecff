"""The EC2 adapter: the account's default VPC and the subnets of a VPC."""

from __future__ import annotations

from dataclasses import dataclass

from cloudops.aws.errors import aws_call
from cloudops.aws.session import AccountSession


@dataclass(frozen=True)
class Vpc:
    vpc_id: str
    cidr: str


def default_vpc(account: AccountSession) -> Vpc | None:
    """The account's default VPC in its region; None when it has none."""
    with aws_call(f"looking up the default VPC of account {account.account_id}"):
        vpcs = account.client("ec2").describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
    return Vpc(str(vpcs[0]["VpcId"]), str(vpcs[0]["CidrBlock"])) if vpcs else None


def subnets(account: AccountSession, vpc_id: str) -> list[str]:
    """The ids of the subnets of ``vpc_id``, sorted."""
    found: list[str] = []
    with aws_call(f"listing the subnets of VPC {vpc_id} in account {account.account_id}"):
        paginator = account.client("ec2").get_paginator("describe_subnets")
        for page in paginator.paginate(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}]):
            found += [subnet["SubnetId"] for subnet in page["Subnets"]]
    return sorted(found)


@dataclass(frozen=True)
class Subnet:
    subnet_id: str
    vpc_id: str
    zone: str


def find_subnets(account: AccountSession, subnet_ids: list[str]) -> list[Subnet]:
    """Those of ``subnet_ids`` the account has, in its region (one that does not exist is left out)."""
    found: list[Subnet] = []
    with aws_call(f"describing subnets {', '.join(subnet_ids)} in account {account.account_id}"):
        paginator = account.client("ec2").get_paginator("describe_subnets")
        for page in paginator.paginate(Filters=[{"Name": "subnet-id", "Values": subnet_ids}]):
            found += [Subnet(s["SubnetId"], s["VpcId"], s["AvailabilityZone"]) for s in page["Subnets"]]
    return found
