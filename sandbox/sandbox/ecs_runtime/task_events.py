"""ECS's task state change events for the RunTask tasks the runtime runs: each change of a task's last status
("PENDING", "RUNNING", "STOPPED") is put on the account's default event bus as ECS puts it (source ``aws.ecs``,
detail type "ECS Task State Change", the task in ``detail``), and moto's EventBridge takes it where the
account's rules say: prefect-aws's observer reads them from an SQS queue (``prefect-aws ecs-worker
deploy-events``; the sandbox's `up --ecs-pool` sets up the same rule and queue).

NOTE: ECS sends these for a service's tasks too; the runtime sends them only for RunTask tasks, the flow runs'.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from moto.events.models import events_backends

SOURCE, DETAIL_TYPE = "aws.ecs", "ECS Task State Change"
LOG = logging.getLogger("sandbox.ecs_runtime")


def stop_code(reason: str) -> str:
    """ECS's ``stopCode`` for a stopped task's reason."""
    if reason.startswith(("CannotPullContainerError", "ResourceInitializationError", "CannotStartContainerError")):
        return "TaskFailedToStart"
    if "stopped by the user" in reason.lower() or "StopTask" in reason:
        return "UserInitiated"
    return "EssentialContainerExited"


def detail(task: Any) -> dict[str, Any]:
    """The event's ``detail``: the task as ECS describes it in the event."""
    found: dict[str, Any] = {
        "clusterArn": task.cluster_arn,
        "taskArn": task.task_arn,
        "taskDefinitionArn": task.task_definition_arn,
        "lastStatus": task.last_status,
        "desiredStatus": task.desired_status,
        "launchType": task.launch_type,
        "group": task.group,
        "startedBy": task.started_by or "",
        "updatedAt": datetime.now(UTC).isoformat(),
        "containers": [
            {
                "name": c.get("name"),
                "image": c.get("image", ""),
                "lastStatus": c.get("lastStatus", task.last_status),
                "taskArn": task.task_arn,
                **({"exitCode": c["exitCode"]} if c.get("exitCode") is not None else {}),
                **({"reason": c["reason"]} if c.get("reason") else {}),
            }
            for c in task.containers or []
        ],
    }
    if task.last_status == "STOPPED":
        reason = str(task.stopped_reason or "")
        found |= {"stoppedReason": reason, "stopCode": stop_code(reason)}
        if found["stopCode"] == "TaskFailedToStart" and not any(
            c.get("exitCode") is not None for c in found["containers"]
        ):
            found["containers"] = []  # as ECS reports a task that never started a container
    return found


def changed(account: str, region: str, task: Any, before: str | None) -> None:
    """Put the task's event on the bus when its last status is not ``before`` any more; never fails the round."""
    if task.last_status == before:
        return
    try:
        entry = {
            "Source": SOURCE,
            "DetailType": DETAIL_TYPE,
            "Detail": json.dumps(detail(task), default=str),
            "Resources": [task.task_arn],
        }
        events_backends[account][region].put_events([entry])
    except Exception:  # the event is ECS's courtesy: a task runs whether or not anyone hears of it
        LOG.exception("ECS runtime: the state change event of %s could not be put", task.task_arn)
