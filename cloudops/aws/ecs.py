"""The ECS adapter: one-off tasks (RunTask) and waiting for one to stop; services and task definitions as ECS
describes them."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from cloudops.aws.errors import aws_call, code
from cloudops.aws.session import AccountSession
from cloudops.errors import CloudOpsError


class TaskResult(BaseModel):
    """What ECS says of a task: its status, why it stopped, each container's exit code."""

    model_config = ConfigDict(frozen=True)

    arn: str
    last_status: str
    stopped_reason: str = ""
    exit_codes: dict[str, int | None] = {}
    reasons: dict[str, str] = {}

    @property
    def succeeded(self) -> bool:
        """Stopped with every container's exit code 0."""
        return self.last_status == "STOPPED" and bool(self.exit_codes) and all(c == 0 for c in self.exit_codes.values())


def run_task(
    account: AccountSession,
    cluster: str,
    task_definition: str,
    started_by: str,
    launch_type: str,
    network_configuration: dict[str, Any] | None = None,
) -> str:
    """Start one task of ``task_definition`` in ``cluster`` (in ``network_configuration``, which awsvpc tasks
    need: a service's own); its ARN."""
    extra: dict[str, Any] = {"networkConfiguration": network_configuration} if network_configuration else {}
    with aws_call(f"running a task of {task_definition} in cluster {cluster} of account {account.account_id}"):
        answer = account.client("ecs").run_task(
            cluster=cluster,
            taskDefinition=task_definition,
            count=1,
            startedBy=started_by[:36],
            launchType=launch_type,
            **extra,
        )
    failures = answer.get("failures") or []
    tasks = answer.get("tasks") or []
    if failures or not tasks:
        why = "; ".join(f"{f.get('arn', '')} {f.get('reason', '')}".strip() for f in failures) or "no task started"
        raise CloudOpsError(
            f"ECS could not start a task of {task_definition} in cluster {cluster}: {why}; check the cluster's "
            "container instances (its Auto Scaling group) and the task definition"
        )
    return str(tasks[0]["taskArn"])


def describe_task(account: AccountSession, cluster: str, arn: str) -> TaskResult:
    with aws_call(f"describing task {arn} in cluster {cluster} of account {account.account_id}"):
        found = account.client("ecs").describe_tasks(cluster=cluster, tasks=[arn])["tasks"]
    if not found:
        raise CloudOpsError(f"ECS has no task {arn} in cluster {cluster}; it may have stopped long ago")
    task = found[0]
    containers = task.get("containers") or []
    return TaskResult(
        arn=arn,
        last_status=str(task.get("lastStatus", "")),
        stopped_reason=str(task.get("stoppedReason", "") or ""),
        exit_codes={str(c.get("name")): c.get("exitCode") for c in containers},
        reasons={str(c.get("name")): str(c["reason"]) for c in containers if c.get("reason")},
    )


def wait_stopped(
    account: AccountSession,
    cluster: str,
    arn: str,
    timeout: float,
    poll: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> TaskResult:
    """Wait until the task is STOPPED; what ECS then says of it (raises when ``timeout`` s pass first)."""
    deadline = time.monotonic() + timeout
    while True:
        result = describe_task(account, cluster, arn)
        if result.last_status == "STOPPED":
            return result
        if time.monotonic() > deadline:
            raise CloudOpsError(
                f"task {arn} in cluster {cluster} is still {result.last_status} after {timeout:.0f} s; "
                "see its logs, stop it (aws ecs stop-task) and deploy again"
            )
        sleep(poll)


def list_services(account: AccountSession, cluster: str) -> list[str]:
    """The ARNs of the cluster's services; none when the cluster is gone."""
    with aws_call(f"listing the services of cluster {cluster} in account {account.account_id}"):
        try:
            paginator = account.client("ecs").get_paginator("list_services")
            return [arn for page in paginator.paginate(cluster=cluster) for arn in page["serviceArns"]]
        except ClientError as error:
            if code(error) == "ClusterNotFoundException":
                return []
            raise


def describe_services(account: AccountSession, cluster: str, services: list[str]) -> list[dict[str, Any]]:
    """What ECS says of each service (its deployments, counts, load balancers), as ECS answers it."""
    found: list[dict[str, Any]] = []
    with aws_call(f"describing the services of cluster {cluster} in account {account.account_id}"):
        for start in range(0, len(services), 10):  # DescribeServices takes ten at a time
            answer = account.client("ecs").describe_services(cluster=cluster, services=services[start : start + 10])
            found += answer.get("services") or []
    return found


def describe_task_definition(account: AccountSession, task_definition: str) -> dict[str, Any]:
    with aws_call(f"describing task definition {task_definition} in account {account.account_id}"):
        found: dict[str, Any] = account.client("ecs").describe_task_definition(taskDefinition=task_definition)[
            "taskDefinition"
        ]
    return found


def register_task_definition(account: AccountSession, definition: dict[str, Any]) -> str:
    """Register a revision of ``definition`` (RegisterTaskDefinition's arguments); its ARN."""
    with aws_call(f"registering task definition {definition.get('family')} in account {account.account_id}"):
        answer = account.client("ecs").register_task_definition(**definition)
    return str(answer["taskDefinition"]["taskDefinitionArn"])
