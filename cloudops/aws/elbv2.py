"""The Elastic Load Balancing v2 adapter: the health of a target group's targets."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from cloudops.aws.errors import aws_call
from cloudops.aws.session import AccountSession


class TargetHealth(BaseModel):
    """One registered target and what its load balancer says of it."""

    model_config = ConfigDict(frozen=True)

    target: str  # id:port
    state: str  # initial, healthy, unhealthy, unused, draining, unavailable
    reason: str = ""
    description: str = ""


def target_health(account: AccountSession, target_group: str) -> list[TargetHealth]:
    """Every target registered in ``target_group`` and its health."""
    with aws_call(f"describing the target health of {target_group} in account {account.account_id}"):
        found = account.client("elbv2").describe_target_health(TargetGroupArn=target_group)
    return [
        TargetHealth(
            target=f"{d['Target']['Id']}:{d['Target'].get('Port', '')}",
            state=str(d.get("TargetHealth", {}).get("State", "")),
            reason=str(d.get("TargetHealth", {}).get("Reason", "") or ""),
            description=str(d.get("TargetHealth", {}).get("Description", "") or ""),
        )
        for d in found.get("TargetHealthDescriptions", [])
    ]
