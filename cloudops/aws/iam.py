"""The IAM adapter: what IAM's policy simulator decides for a role's actions."""

from __future__ import annotations

from dataclasses import dataclass

from cloudops.aws.errors import aws_call
from cloudops.aws.session import AccountSession


@dataclass(frozen=True)
class Decision:
    action: str
    resource: str
    decision: str  # allowed, implicitDeny or explicitDeny

    @property
    def allowed(self) -> bool:
        return self.decision == "allowed"


def simulate(
    account: AccountSession, role_arn: str, actions: list[str], resources: list[str], context: dict[str, str]
) -> list[Decision]:
    """IAM's policy simulator on ``role_arn``'s policies (its permissions boundary and the organization's service
    control policies included): each of ``actions`` on each of ``resources``, with ``context``'s condition keys."""
    entries = [{"ContextKeyName": k, "ContextKeyValues": [v], "ContextKeyType": "string"} for k, v in context.items()]
    found: list[Decision] = []
    with aws_call(f"IAM policy simulation of {role_arn}"):
        pages = account.client("iam").get_paginator("simulate_principal_policy")
        for page in pages.paginate(
            PolicySourceArn=role_arn,
            ActionNames=actions,
            ResourceArns=resources,
            ContextEntries=entries,
        ):
            found += [
                Decision(r["EvalActionName"], r.get("EvalResourceName", "*"), r["EvalDecision"])
                for r in page["EvaluationResults"]
            ]
    return found
