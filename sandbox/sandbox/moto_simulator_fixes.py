"""IAM's policy simulator in the sandbox's moto: ``SimulatePrincipalPolicy`` of a role, answered with moto's own
policy evaluator (moto 5.2.5 has no simulator: the action was unknown to it).

For each action and resource asked, with the context entries given, each statement of the role's inline and attached
policies is evaluated with moto's statement evaluator: an explicit ``Deny`` wins (``explicitDeny``), else an
``Allow`` (``allowed``), else ``implicitDeny``; a permissions boundary must allow it too. An ``Allow`` whose
condition is not met does not apply, as on AWS (moto's evaluator counts it as a denial). NOTE: AWS's simulator
also applies the organization's service control policies; the sandbox's accounts have none. Pinned by
sandbox/sandbox_tests/test_doctor.py (the doctor's ``permissions`` check asks it).
"""

from __future__ import annotations

from typing import Any

from moto.core.responses import ActionResult
from moto.iam.access_control import IAMPolicy, IAMPolicyStatement, PermissionResult
from moto.iam.responses import IamResponse

Statements = list[dict[str, Any]]


def _statements(policy: Any) -> Statements:
    found = IAMPolicy(policy)._policy_json["Statement"]
    return list(found) if isinstance(found, list) else [found]


def _result(statement: dict[str, Any], action: str, resource: str, context: dict[str, str]) -> PermissionResult:
    result = IAMPolicyStatement(statement).is_action_permitted(action, resource, None, context)
    if statement.get("Effect") == "Allow" and result is PermissionResult.DENIED:
        return PermissionResult.NEUTRAL  # moto: an Allow whose condition is not met denies; on AWS it does not apply
    return result


def _decision(
    statements: Statements, boundary: Statements | None, action: str, resource: str, context: dict[str, str]
) -> str:
    results = [_result(statement, action, resource, context) for statement in statements]
    if PermissionResult.DENIED in results:
        return "explicitDeny"
    if PermissionResult.PERMITTED not in results:
        return "implicitDeny"
    if boundary is not None:
        bounded = [_result(statement, action, resource, context) for statement in boundary]
        if PermissionResult.DENIED in bounded or PermissionResult.PERMITTED not in bounded:
            return "implicitDeny"
    return "allowed"


def simulate_principal_policy(self: Any) -> ActionResult:
    role_name = str(self._get_param("PolicySourceArn")).split(":role/", 1)[-1].rsplit("/", 1)[-1]
    backend = self.backend
    role = backend.get_role(role_name)
    inline = [backend.get_role_policy(role_name, name)[1] for name in backend.list_role_policies(role_name)]
    attached, _ = backend.list_attached_role_policies(role_name)
    statements = [statement for policy in [*inline, *attached] for statement in _statements(policy)]
    boundary_arn = role.permissions_boundary_arn
    boundary = _statements(backend.get_policy(boundary_arn)) if boundary_arn else None
    context = {
        entry["ContextKeyName"]: (entry.get("ContextKeyValues") or [""])[0]
        for entry in self._get_param("ContextEntries", [])
    }
    results = [
        {
            "EvalActionName": action,
            "EvalResourceName": resource,
            "EvalDecision": _decision(statements, boundary, action, resource, context),
        }
        for action in self._get_param("ActionNames", [])
        for resource in self._get_param("ResourceArns", []) or ["*"]
    ]
    return ActionResult({"EvaluationResults": results, "IsTruncated": False})


def apply() -> None:
    IamResponse.simulate_principal_policy = simulate_principal_policy  # type: ignore[attr-defined]
