"""Decisions about CloudFormation stacks, as pure functions over data (no AWS calls here).

What a stack's status means for a deploy, which changes a change set makes (and which replace a
resource), and which event explains a failure.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from cloudops.errors import CloudOpsError


class StackError(CloudOpsError):
    """A stack that cannot be deployed as asked, or whose deploy failed."""


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    RECREATE = "recreate"


IN_PROGRESS_SUFFIX = "_IN_PROGRESS"
UPDATABLE = {
    "CREATE_COMPLETE",
    "UPDATE_COMPLETE",
    "UPDATE_ROLLBACK_COMPLETE",
    "IMPORT_COMPLETE",
    "IMPORT_ROLLBACK_COMPLETE",
}


def decide(stack: str, status: str | None, *, recreate_failed: bool) -> Action:
    """What to do with ``stack`` in ``status`` (None: it does not exist)."""
    if status is None or status == "DELETE_COMPLETE":
        return Action.CREATE
    if status in UPDATABLE:
        return Action.UPDATE
    if status == "REVIEW_IN_PROGRESS":
        return Action.CREATE  # a stack made by a create change set that was never executed
    if status.endswith(IN_PROGRESS_SUFFIX):
        raise StackError(f"stack {stack} is {status}; wait until it finishes, then deploy again")
    if status in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED"):
        if recreate_failed:
            return Action.RECREATE
        raise StackError(
            f"stack {stack} is {status}: its first creation failed and it cannot be updated; deploy again with "
            "recreate_failed=true to delete it and create it anew (after fixing the cause in its events)"
        )
    raise StackError(
        f"stack {stack} is {status}; it needs a person: look at its events in the CloudFormation console, "
        "fix it (e.g. continue-update-rollback), then deploy again"
    )


class ResourceChange(BaseModel):
    model_config = ConfigDict(frozen=True)

    action: str
    logical_id: str
    resource_type: str
    replacement: str  # "True", "False", "Conditional" or "" (for Add and Remove)
    details: tuple[str, ...] = ()

    @property
    def replaces(self) -> bool:
        return self.replacement in ("True", "Conditional")


def resource_changes(changes: Iterable[dict[str, Any]]) -> list[ResourceChange]:
    """The ``Changes`` of DescribeChangeSet as rows, sorted: replacements first."""
    rows = []
    for change in changes:
        resource = change.get("ResourceChange", {})
        details = tuple(
            sorted(
                {
                    d.get("Target", {}).get("Name") or d.get("Target", {}).get("Attribute", "")
                    for d in resource.get("Details", [])
                }
                - {""}
            )
        )
        rows.append(
            ResourceChange(
                action=resource.get("Action", ""),
                logical_id=resource.get("LogicalResourceId", ""),
                resource_type=resource.get("ResourceType", ""),
                replacement=str(resource.get("Replacement", "")),
                details=details,
            )
        )
    return sorted(rows, key=lambda r: (not r.replaces, r.logical_id))


def changes_markdown(stack: str, change_set: str, rows: list[ResourceChange]) -> str:
    lines = [f"### Change set `{change_set}` of stack `{stack}`", ""]
    if not rows:
        return "\n".join([*lines, "No resource changes are listed."]) + "\n"
    replaced = [r.logical_id for r in rows if r.replaces]
    if replaced:
        lines += [f"**Will replace: {', '.join(replaced)}** (a new resource, the old one deleted)", ""]
    lines += ["| action | resource | type | replacement | properties |", "|---|---|---|---|---|"]
    for row in rows:
        mark = f"**{row.replacement}**" if row.replaces else (row.replacement or "-")
        lines.append(
            f"| {row.action} | {row.logical_id} | {row.resource_type} | {mark} | {', '.join(row.details) or '-'} |"
        )
    return "\n".join(lines) + "\n"


def first_failure(events: Iterable[dict[str, Any]], stack: str) -> tuple[str, str] | None:
    """(resource, reason) of the first resource that failed, from DescribeStackEvents (newest first)."""
    failures = [
        e
        for e in events
        if str(e.get("ResourceStatus", "")).endswith("_FAILED")
        and e.get("LogicalResourceId") != stack
        and "cancelled" not in str(e.get("ResourceStatusReason", "")).lower()
    ]
    if not failures:
        return None
    first = failures[-1]
    return str(first.get("LogicalResourceId")), str(first.get("ResourceStatusReason", "no reason given"))
