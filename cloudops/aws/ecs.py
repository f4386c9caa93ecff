"""The ECS adapter: one-off tasks (RunTask), and waiting for one to stop."""

from __future__ import annotations

import time
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict

from cloudops.aws.errors import aws_call
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


def run_task(account: AccountSession, cluster: str, task_definition: str, started_by: str, launch_type: str) -> str:
    """Start one task of ``task_definition`` in ``cluster``; its ARN."""
    with aws_call(f"running a task of {task_definition} in cluster {cluster} of account {account.account_id}"):
        answer = account.client("ecs").run_task(
            cluster=cluster,
            taskDefinition=task_definition,
            count=1,
            startedBy=started_by[:36],
            launchType=launch_type,
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
