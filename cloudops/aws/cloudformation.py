"""The CloudFormation adapter: validate, change sets, execute and wait, outputs, delete."""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any

from botocore.exceptions import ClientError, WaiterError
from pydantic import BaseModel, ConfigDict

from cloudops.aws.errors import aws_call
from cloudops.aws.errors import code as _code
from cloudops.aws.errors import message as _message
from cloudops.aws.session import AccountSession
from cloudops.errors import CloudOpsError
from cloudops.stacks import Action, ResourceChange, StackError, first_failure, resource_changes

WAITER = {"Delay": 5, "MaxAttempts": 720}
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")


class TemplateError(CloudOpsError):
    """A template that CloudFormation does not accept."""


class StackInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    status: str
    outputs: dict[str, str]
    parameters: dict[str, str]


class ChangeSet(BaseModel):
    model_config = ConfigDict(frozen=True)

    stack: str
    name: str
    action: Action
    changes: tuple[ResourceChange, ...]


def describe(account: AccountSession, stack: str) -> StackInfo | None:
    with aws_call(f"describing stack {stack} in account {account.account_id}"):
        try:
            found = account.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
        except ClientError as error:
            if _code(error) == "ValidationError" and "does not exist" in _message(error):
                return None
            raise
    return StackInfo(
        name=found["StackName"],
        status=found["StackStatus"],
        outputs={o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])},
        parameters={p["ParameterKey"]: p.get("ParameterValue", "") for p in found.get("Parameters", [])},
    )


# Template texts an endpoint and region have accepted in this process, with their parameter names: a release
# checks its templates before touching anything in any stage, and the same text gets the same answer.
# NOTE: ValidateTemplate checks the template itself (syntax, intrinsic functions, the public resource types);
# only private registry types differ between accounts, and our templates use none, so one account's answer
# stands for every account of the region. It takes about 0.1 s on AWS, 2-3 s on moto (cfn-lint per call).
_VALID: dict[tuple[str, str, str], list[str]] = {}


def validate(account: AccountSession, body: str, template_name: str) -> list[str]:
    """The template's parameter names, or a :class:`TemplateError` with CloudFormation's message."""
    cfn = account.client("cloudformation")
    key = (cfn.meta.endpoint_url, account.region, hashlib.sha256(body.encode()).hexdigest())
    if key in _VALID:
        return _VALID[key]
    with aws_call(f"validating template {template_name}"):
        try:
            result = cfn.validate_template(TemplateBody=body)
        except ClientError as error:
            if _code(error) == "ValidationError":
                raise TemplateError(f"template {template_name} does not validate: {_message(error)}") from None
            raise
    _VALID[key] = [p["ParameterKey"] for p in result.get("Parameters", [])]
    return _VALID[key]


def create_change_set(
    account: AccountSession,
    stack: str,
    body: str,
    parameters: dict[str, str],
    tags: dict[str, str],
    action: Action,
    role_arn: str | None,
) -> ChangeSet | None:
    """Create a change set and wait for it; None when it changes nothing (and it is deleted). CloudFormation acts
    with the rights of ``role_arn`` (the account's execution role), not the caller's; with None, the caller's
    (the bootstrap stack, made by the account's administrator before any execution role exists)."""
    cfn = account.client("cloudformation")
    name = f"cloudops-{uuid.uuid4().hex[:12]}"
    with aws_call(f"creating a change set for stack {stack} in account {account.account_id}"):
        try:
            role = {"RoleARN": role_arn} if role_arn else {}
            cfn.create_change_set(
                StackName=stack,
                ChangeSetName=name,
                ChangeSetType="UPDATE" if action is Action.UPDATE else "CREATE",
                TemplateBody=body,
                Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(parameters.items())],
                Tags=[{"Key": k, "Value": v} for k, v in sorted(tags.items())],
                Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
                **role,
            )
        except ClientError as error:
            if _code(error) == "ValidationError" and any(marker in _message(error) for marker in NO_CHANGES):
                return None  # moto answers an unchanged update so; CloudFormation makes a FAILED change set instead
            if _code(error) == "ValidationError":
                raise TemplateError(
                    f"stack {stack}: CloudFormation refused the change set: {_message(error)}"
                ) from None
            raise
        described = _wait_for_change_set(account, stack, name)
        if described["Status"] == "FAILED":
            reason = str(described.get("StatusReason", ""))
            cfn.delete_change_set(StackName=stack, ChangeSetName=name)
            if any(marker in reason for marker in NO_CHANGES):
                return None
            raise StackError(f"change set for stack {stack} failed: {reason}")
        changes: list[dict[str, Any]] = list(described.get("Changes", []))
        token = described.get("NextToken")
        while token:
            page = cfn.describe_change_set(StackName=stack, ChangeSetName=name, NextToken=token)
            changes += page.get("Changes", [])
            token = page.get("NextToken")
    return ChangeSet(stack=stack, name=name, action=action, changes=tuple(resource_changes(changes)))


def _wait_for_change_set(account: AccountSession, stack: str, name: str) -> dict[str, Any]:
    cfn = account.client("cloudformation")
    deadline = time.monotonic() + 600
    while True:
        described: dict[str, Any] = cfn.describe_change_set(StackName=stack, ChangeSetName=name)
        if described["Status"] in ("CREATE_COMPLETE", "FAILED"):
            return described
        if time.monotonic() > deadline:
            raise StackError(f"change set {name} of stack {stack} is still {described['Status']} after 10 minutes")
        time.sleep(2)


def discard(account: AccountSession, change_set: ChangeSet) -> None:
    """Delete a change set that is not to be executed (a preview)."""
    with aws_call(f"deleting change set {change_set.name} of stack {change_set.stack}"):
        account.client("cloudformation").delete_change_set(StackName=change_set.stack, ChangeSetName=change_set.name)


def execute(account: AccountSession, change_set: ChangeSet) -> StackInfo:
    """Execute the change set and wait; on failure, the failing resource and its reason."""
    cfn = account.client("cloudformation")
    started = time.time()
    waiter = "stack_update_complete" if change_set.action is Action.UPDATE else "stack_create_complete"
    with aws_call(f"executing change set {change_set.name} of stack {change_set.stack}"):
        cfn.execute_change_set(StackName=change_set.stack, ChangeSetName=change_set.name)
        try:
            cfn.get_waiter(waiter).wait(StackName=change_set.stack, WaiterConfig=WAITER)
        except WaiterError:
            raise failure(account, change_set.stack, started) from None
    info = describe(account, change_set.stack)
    assert info is not None
    return info


def failure(account: AccountSession, stack: str, since: float) -> StackError:
    """The error that says why ``stack`` failed: its first failed resource since ``since``."""
    events = []
    with aws_call(f"reading the events of stack {stack}"):
        paginator = account.client("cloudformation").get_paginator("describe_stack_events")
        for page in paginator.paginate(StackName=stack):
            for event in page["StackEvents"]:
                if event["Timestamp"].timestamp() < since - 1:
                    break
                events.append(event)
    info = describe(account, stack)
    status = info.status if info else "DELETED"
    found = first_failure(events, stack)
    if found is None:
        return StackError(f"stack {stack} failed ({status}) without a failed resource in its events")
    resource, reason = found
    return StackError(f"stack {stack} failed ({status}): resource {resource} failed: {reason}")


def physical_id(account: AccountSession, stack: str, logical_id: str) -> str | None:
    """The physical id of the stack's resource ``logical_id``; None when the stack has no such resource."""
    with aws_call(f"describing resource {logical_id} of stack {stack} in account {account.account_id}"):
        try:
            found = account.client("cloudformation").describe_stack_resource(
                StackName=stack, LogicalResourceId=logical_id
            )
        except ClientError as error:
            if _code(error) == "ValidationError":
                return None
            raise
    return found["StackResourceDetail"].get("PhysicalResourceId") or None


def resources_of_type(account: AccountSession, stack: str, resource_type: str) -> dict[str, str]:
    """Logical id -> physical id of the stack's resources of ``resource_type`` (AWS::ECS::TaskDefinition: ARNs)."""
    with aws_call(f"describing the resources of stack {stack} in account {account.account_id}"):
        found = account.client("cloudformation").describe_stack_resources(StackName=stack)["StackResources"]
    return {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in found
        if r.get("ResourceType") == resource_type and r.get("PhysicalResourceId")  # moto answered one without it
    }


def delete(account: AccountSession, stack: str, role_arn: str) -> bool:
    """Delete the stack and wait, CloudFormation acting with the rights of ``role_arn``; False when there was none."""
    if describe(account, stack) is None:
        return False
    cfn = account.client("cloudformation")
    started = time.time()
    with aws_call(f"deleting stack {stack} in account {account.account_id}"):
        cfn.delete_stack(StackName=stack, RoleARN=role_arn)
        try:
            cfn.get_waiter("stack_delete_complete").wait(StackName=stack, WaiterConfig=WAITER)
        except WaiterError:
            raise failure(account, stack, started) from None
    return True
