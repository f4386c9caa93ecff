"""From an ECS task definition to the Docker task that runs it, and from what runs back to what ECS reports.

The environment is the task definition's environment files (read from the account's bucket), then its
``environment`` (which wins over the files'), then its secrets (from the account's parameter store), as ECS
resolves them. Images are pulled from the
account's own registry with the account's own login.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from sandbox.ecs_runtime import efs_volumes, moto_view
from sandbox.ecs_runtime.config import AccountRuntime
from sandbox.ecs_runtime.moto_view import ServiceView
from sandbox.ecs_runtime.networks import network_name
from sandbox.ecs_runtime.task_specs import AwsLogs, ContainerSpec, HealthCheck, RegistryAuth, TaskSpec, TaskState

RUNTIME_LABEL = "cloudops.ecs"
SERVICE_LABEL = "cloudops.ecs.service"
TASK_DEFINITION_LABEL = "cloudops.ecs.task-definition"
DEPLOYMENT_LABEL = "cloudops.ecs.deployment"
ACCOUNT_LABEL = "cloudops.ecs.account"


def environment(view: ServiceView, container: dict[str, Any]) -> dict[str, str]:
    values: dict[str, str] = {}
    for item in container.get("environmentFiles", []):  # ECS: a name in `environment` wins over the files'
        values.update(moto_view.environment_file(view.account, str(item["value"])))
    values.update({item["name"]: str(item["value"]) for item in container.get("environment", [])})
    for item in container.get("secrets", []):
        values[item["name"]] = moto_view.secret(view.account, view.region, str(item["valueFrom"]))
    return values


def health_check(container: dict[str, Any]) -> HealthCheck | None:
    check = container.get("healthCheck")
    if not check:
        return None
    return HealthCheck(
        command=list(check["command"]),
        interval=int(check.get("interval", 30)),
        timeout=int(check.get("timeout", 5)),
        retries=int(check.get("retries", 3)),
        start_period=int(check.get("startPeriod", 0)),
    )


def aws_logs(view: ServiceView, container: dict[str, Any]) -> AwsLogs | None:
    """The container's ``awslogs`` configuration; its log group must exist, as ECS checks before the task starts
    (or is created first, with ``awslogs-create-group``). Other log drivers ship nothing in the sandbox."""
    configuration = container.get("logConfiguration") or {}
    if configuration.get("logDriver") != "awslogs":
        return None
    options = configuration.get("options") or {}
    logs = AwsLogs(
        group=str(options.get("awslogs-group", "")),
        region=str(options.get("awslogs-region", view.region)),
        stream_prefix=str(options.get("awslogs-stream-prefix", "")),
    )
    if str(options.get("awslogs-create-group", "")).lower() == "true":
        moto_view.ensure_log_group(view.account, logs.region, logs.group)
    elif not moto_view.log_group_exists(view.account, logs.region, logs.group):
        raise LookupError(
            f"failed to create the CloudWatch log stream of container {container['name']!r}: "
            f"ResourceNotFoundException: log group {logs.group} does not exist in account {view.account} "
            f"({logs.region}); create it (an AWS::Logs::LogGroup in the stack) or set awslogs-create-group"
        )
    return logs


def container_spec(view: ServiceView, container: dict[str, Any], efs_root: Path | None = None) -> ContainerSpec:
    def access_point_root(access_point: str) -> str | None:
        return moto_view.access_point_root(view.account, view.region, access_point)

    return ContainerSpec(
        name=str(container["name"]),
        image=str(container["image"]),
        essential=bool(container.get("essential", True)),
        command=container.get("command"),
        entry_point=container.get("entryPoint"),
        environment=environment(view, container),
        depends_on=[(d["containerName"], d["condition"]) for d in container.get("dependsOn", [])],
        health_check=health_check(container),
        port_mappings=[int(p["containerPort"]) for p in container.get("portMappings", [])],
        mounts=efs_volumes.container_mounts(efs_root, view.account, view.volumes, container, access_point_root),
        logs=aws_logs(view, container),
    )


def task_spec(
    view: ServiceView,
    account: AccountRuntime,
    efs_root: Path | None = None,
    *,
    task_id: str | None = None,
    labels: dict[str, str] | None = None,
) -> TaskSpec:
    """A new task of the view's task definition: a service's (labelled as its, by default), or with ``task_id``
    and ``labels`` of its own (a RunTask task)."""
    service_labels = {
        RUNTIME_LABEL: "1",
        ACCOUNT_LABEL: view.account,
        SERVICE_LABEL: view.arn,
        TASK_DEFINITION_LABEL: view.task_definition_arn,
        DEPLOYMENT_LABEL: view.deployment_id,
    }
    return TaskSpec(
        task_id=task_id or uuid.uuid4().hex,
        labels=service_labels if labels is None else labels,
        network=network_name(view.account, view.cluster),  # a cluster's own (its Service Connect namespace)
        host_network=network_mode(view) == "host",
        aliases=list(view.aliases),
        hosts=efs_volumes.link_hosts(view.containers),
        containers=[container_spec(view, c, efs_root) for c in view.containers],
        registry=RegistryAuth(url=account.registry_url, username=account.username, password=account.password),
    )


def network_mode(view: ServiceView) -> str:
    """The task definition's network mode, as the runtime runs it: ``host``, or one namespace of the task's own
    (``awsvpc``; ``bridge`` and unset run that way too, see efs_volumes.link_hosts' NOTE)."""
    mode = view.network_mode or "awsvpc"
    if mode not in ("awsvpc", "bridge", "host", "none"):
        raise ValueError(f"networkMode {mode!r} is not one of awsvpc, bridge, host, none")
    return mode


def observed(task: TaskState) -> dict[str, Any]:
    """A task as describe-tasks reports it."""
    return {
        "task_definition": task.labels.get(TASK_DEFINITION_LABEL, ""),
        "deployment_id": task.labels.get(DEPLOYMENT_LABEL, ""),
        "last_status": task.last_status,
        "health": task.health,
        "ip": task.ip,
        "stopped_reason": task.stopped_reason or "",
        "started_at": task.started_at,
        "stopped_at": task.stopped_at,
        "containers": [
            {
                "name": c.name,
                "image": c.image,
                "imageDigest": c.image_digest or "",
                "lastStatus": c.status,
                "exitCode": c.exit_code,
                "healthStatus": c.health,
                "reason": c.reason or "",
                "networkInterfaces": [{"privateIpv4Address": task.ip}],
            }
            for c in task.containers
        ],
    }
