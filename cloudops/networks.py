"""Where a stage's environments run: the network its configuration names, or its account's default VPC.

Load balancers go in the public subnets; tasks, databases and EFS mount targets in the private ones, without a
public IP (they reach ECR, S3, SSM and CloudWatch Logs through the VPC's NAT or endpoints). A stage that asks for
its account's default VPC, as the sandbox's do, gets that VPC's first two subnets as both, and its Fargate tasks a
public IP: a default VPC's subnets are public and have no NAT, so a task without one could not pull its image.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from cloudops.aws import ec2
from cloudops.aws.session import AccountSession
from cloudops.errors import CloudOpsError
from cloudops.settings import Network


class StageNetwork(BaseModel):
    """A stage's network as its templates take it."""

    model_config = ConfigDict(frozen=True)

    vpc_id: str
    vpc_cidr: str
    public_subnets: tuple[str, ...]
    private_subnets: tuple[str, ...]
    public_ip: bool  # whether its tasks get a public IP (a default VPC's: no NAT to reach ECR by)

    @property
    def assign_public_ip(self) -> str:
        """The ECS services' AssignPublicIp."""
        return "ENABLED" if self.public_ip else "DISABLED"


def stage_network(account: AccountSession, stage: str, network: Network | None) -> StageNetwork:
    """The network of ``stage`` as its configuration gives it; its account's default VPC where it asks for that."""
    if network is None:
        raise CloudOpsError(
            f"stage {stage} has no network to deploy into; set [stages.{stage}.network] in cloudops.toml"
        )
    if not network.default_vpc:
        assert network.vpc_id is not None and network.vpc_cidr is not None  # the settings' validator
        return StageNetwork(
            vpc_id=network.vpc_id,
            vpc_cidr=str(network.vpc_cidr),
            public_subnets=network.public_subnets,
            private_subnets=network.private_subnets,
            public_ip=False,
        )
    vpc = ec2.default_vpc(account)
    if vpc is None:
        raise CloudOpsError(
            f"account {account.account_id} has no default VPC, which stage {stage} asks for (network.default_vpc); "
            f"create it (aws ec2 create-default-vpc) or give [stages.{stage}.network] a VPC of your own"
        )
    subnets = tuple(ec2.subnets(account, vpc.vpc_id)[:2])
    if len(subnets) < 2:
        raise CloudOpsError(
            f"the default VPC {vpc.vpc_id} of account {account.account_id} has {len(subnets)} subnet(s); a load "
            "balancer needs two, in two availability zones: add one (aws ec2 create-default-subnet)"
        )
    return StageNetwork(
        vpc_id=vpc.vpc_id, vpc_cidr=vpc.cidr, public_subnets=subnets, private_subnets=subnets, public_ip=True
    )
