"""Tasks started by ``RunTask`` (a one-off job, not a service's): run once on the sandbox's Docker engine, and
reported back through describe-tasks: PENDING, RUNNING, then STOPPED with each container's exit code.

moto keeps a RunTask task as a ``Task`` that runs nothing; the fix here (``apply``) makes each one a
``RunTaskTask`` whose status is what Docker says. The runtime's round calls ``reconcile``: it starts the tasks
not started yet (their task definition, its environment files, secrets and EFS volumes, as a service's
tasks; ``overrides.containerOverrides`` command and environment), stops those StopTask asked to stop, and
records the ones whose essential container exited. Their containers carry a label of their own, so the
service scheduler (runtime.py) neither reaps them nor stops them as orphans.

NOTE: moto places an EC2 task only on a registered container instance and fails RunTask without one; the
sandbox registers none (its one "instance" is its Docker engine), so an EC2 RunTask on a cluster without
instances is placed there, as the cluster's Auto Scaling group's instance would take it on AWS.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any

import docker
from moto.ecs.models import EC2ContainerServiceBackend, Task, ecs_backends
from moto.moto_api._internal.managed_state_model import ManagedState

from sandbox import moto_ecs_fixes
from sandbox.ecs_runtime import definitions, docker_tasks, moto_view, task_events
from sandbox.ecs_runtime.config import RuntimeConfig
from sandbox.ecs_runtime.moto_view import SandboxTask, ServiceView
from sandbox.ecs_runtime.task_specs import TaskSpec, TaskState
from sandbox.errors import TaskNotFoundError

RUN_TASK_LABEL = "cloudops.ecs.run-task"  # not definitions.RUNTIME_LABEL: the service scheduler leaves these be
TASK_ARN_LABEL = "cloudops.ecs.task-arn"
LOG = logging.getLogger("sandbox.ecs_runtime")


class RunTaskTask(SandboxTask):
    """A RunTask task as describe-tasks reports it; made from the ``Task`` moto's RunTask created."""

    def __init__(self, task: Task) -> None:
        ManagedState.__init__(self, model_name="ecs::task", transitions=[("RUNNING", "RUNNING")])
        for name in (
            "id",
            "cluster_name",
            "cluster_arn",
            "container_instance_arn",
            "task_definition_arn",
            "overrides",
            "started_by",
            "group",
            "tags",
            "launch_type",
            "capacity_provider_name",
            "platform_version",
            "resource_requirements",
            "region_name",
            "_account_id",
            "_backend",
        ):
            setattr(self, name, getattr(task, name))
        self.sandbox_started = False
        self.desired_status = "RUNNING"
        definition = self._backend.describe_task_definition(self.task_definition_arn)
        self.update(
            {
                "last_status": "PENDING",
                "containers": [
                    {"name": c["name"], "image": c.get("image", ""), "lastStatus": "PENDING"}
                    for c in definition.container_definitions
                ],
            }
        )
        self.desired_status = "RUNNING"  # update() says STOPPED only for a stopped task


_run_task = EC2ContainerServiceBackend.run_task


def run_task(self: Any, cluster_str: str, task_definition_str: str, count: int, *args: Any, **kwargs: Any) -> Any:
    """moto's RunTask, its tasks kept as ``RunTaskTask``s (and placed without container instances: see NOTE)."""
    launch_type = kwargs.get("launch_type", args[3] if len(args) > 3 else None)
    cluster = self._get_cluster(cluster_str)
    unplaced = launch_type in (None, "", "EC2") and not self.container_instances.get(cluster.name)
    if unplaced:
        if len(args) > 3:
            args = (*args[:3], "FARGATE", *args[4:])
        else:
            kwargs["launch_type"] = "FARGATE"
    tasks = _run_task(self, cluster_str, task_definition_str, count, *args, **kwargs)
    kept = []
    for task in tasks:
        replacement = RunTaskTask(task)
        if unplaced:
            replacement.launch_type = launch_type or "EC2"
        self.tasks[cluster.name][task.task_arn] = replacement
        kept.append(replacement)
        task_events.changed(replacement._account_id, replacement.region_name, replacement, None)  # PENDING
    moto_ecs_fixes.changed()
    return kept


def apply() -> None:
    EC2ContainerServiceBackend.run_task = run_task  # type: ignore[method-assign]


def run_task_tasks() -> list[tuple[str, str, RunTaskTask]]:
    """Every RunTask task moto holds: (account, region, task)."""
    found = []
    for account, region, backend in moto_view.backends(ecs_backends):
        for tasks in list(backend.tasks.values()):
            found += [(account, region, t) for t in list(tasks.values()) if isinstance(t, RunTaskTask)]
    return found


def overridden(containers: list[dict[str, Any]], overrides: dict[str, Any]) -> list[dict[str, Any]]:
    """The task definition's containers with RunTask's ``containerOverrides`` (command, environment) applied."""
    by_name = {str(o.get("name")): o for o in overrides.get("containerOverrides", []) or []}
    result = []
    for container in containers:
        override = by_name.get(str(container["name"]), {})
        changed = dict(container)
        if override.get("command"):
            changed["command"] = list(override["command"])
        if override.get("environment"):
            names = {e["name"] for e in override["environment"]}
            kept = [e for e in container.get("environment", []) if e["name"] not in names]
            changed["environment"] = kept + list(override["environment"])
        result.append(changed)
    return result


def task_spec(account: str, region: str, task: RunTaskTask, config: RuntimeConfig) -> TaskSpec:
    """The Docker task of a RunTask task: its task definition with the overrides (LookupError when it cannot
    start: a missing environment file, secret or EFS access point, or no registry for its account)."""
    runtime = config.accounts.get(account)
    if runtime is None:
        raise LookupError(f"the sandbox has no registry for account {account}")
    definition = task._backend.describe_task_definition(task.task_definition_arn)
    view = ServiceView(
        account=account,
        region=region,
        cluster=task.cluster_name,
        name="",
        arn=task.task_arn,
        desired_count=1,
        task_definition_arn=definition.arn,
        containers=overridden([dict(c) for c in definition.container_definitions], task.overrides or {}),
        deployment_id="",
        volumes=[dict(v) for v in definition.volumes or []],
        network_mode=str(definition.network_mode or "awsvpc"),
    )
    labels = {
        RUN_TASK_LABEL: "1",
        definitions.ACCOUNT_LABEL: account,
        definitions.TASK_DEFINITION_LABEL: definition.arn,
        TASK_ARN_LABEL: task.task_arn,
    }
    return definitions.task_spec(view, runtime, config.efs_root, task_id=task.id, labels=labels)


_recording = threading.Lock()  # a start's thread and the round both record a task: STOPPED is never undone


def record(task: RunTaskTask, state: TaskState, unless_stopped: bool = False) -> None:
    with _recording:
        if unless_stopped and task.last_status == "STOPPED":
            return
        before = task.last_status
        task.update(definitions.observed(state))
        if state.last_status == "STOPPED" and state.stopped_at is None:
            task.stopped_at = datetime.now(UTC)
        task_events.changed(task._account_id, task.region_name, task, before)


def stopped_before_start(task: RunTaskTask, reason: str) -> None:
    with _recording:
        before = task.last_status
        task.sandbox_started = True
        task.update({"last_status": "STOPPED", "stopped_reason": reason, "stopped_at": datetime.now(UTC)})
        task_events.changed(task._account_id, task.region_name, task, before)


def reconcile(client: docker.DockerClient, config: RuntimeConfig) -> bool:
    """Start, stop and record RunTask tasks; True while one of them has not stopped yet."""
    tasks = run_task_tasks()
    by_id = {task.id: task for _, _, task in tasks}
    for state in docker_tasks.reap_exited(client, labels={RUN_TASK_LABEL: "1"}):
        if state.task_id in by_id:
            LOG.info("ECS runtime: RunTask task %s stopped: %s", state.task_id, state.stopped_reason)
            record(by_id[state.task_id], state)
    running = {t.task_id: t for t in docker_tasks.list_tasks(client, {RUN_TASK_LABEL: "1"})}
    busy = False
    for account, region, task in tasks:
        if task.last_status == "STOPPED":  # it ran to its end, or StopTask asked it to stop
            if task.id in running and running[task.id].last_status != "STOPPED":
                reason = task.stopped_reason or "Task stopped by the user"
                record(task, docker_tasks.stop_task(client, task.id, reason))
            elif not task.sandbox_started:
                stopped_before_start(task, task.stopped_reason or "Task stopped before it started")
            continue
        busy = True
        if task.sandbox_started:
            continue
        task.sandbox_started = True
        try:
            spec = task_spec(account, region, task, config)
        except (LookupError, ValueError) as error:
            stopped_before_start(task, f"ResourceInitializationError: {error}")
            continue
        LOG.info("ECS runtime: starting RunTask task %s (%s)", task.id, task.task_definition_arn)
        threading.Thread(target=_start, args=(client, spec, task), name="sandbox-ecs-run-task", daemon=True).start()
    for task_id in set(running) - set(by_id):  # a task moto no longer holds (moto restarted, say)
        docker_tasks.stop_task(client, task_id, "Task unknown to ECS")
    return busy


def _start(client: docker.DockerClient, spec: TaskSpec, task: RunTaskTask) -> None:
    try:
        state = docker_tasks.start_task(client, spec)
    except TaskNotFoundError:
        return  # it exited and was reaped while it started: recorded then
    except Exception as error:  # the task cannot start: ECS stops it
        LOG.warning("ECS runtime: RunTask task %s could not start: %s", spec.task_id, error)
        stopped_before_start(task, f"CannotStartContainerError: {error}")
        return
    record(task, state, unless_stopped=True)
    moto_ecs_fixes.changed()
