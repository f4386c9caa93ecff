"""A task's state, read back from Docker alone: every container carries labels that name its task, its place
in the task and the task's own labels, so a runtime that restarts finds its tasks again.

A task is its holder container (which owns the task's network namespace and address) and one container per
container of its definition. Its ``last_status`` is ECS's: PENDING while a container is not started yet,
RUNNING once all are, STOPPED once the holder is gone or stopped. An essential container that exited leaves
the task RUNNING until ``reap_exited`` stops it, as ECS shows a task stopping.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import docker
from docker.errors import NotFound

from sandbox import docker_engine
from sandbox.ecs_runtime.networks import ECS_LABEL_VALUE, SANDBOX_LABEL
from sandbox.ecs_runtime.task_specs import RESERVED_LABEL_PREFIXES, ContainerState, HealthStatus, TaskState
from sandbox.errors import TaskNotFoundError

TASK = "cloudops.ecs-runtime.task"
ROLE = "cloudops.ecs-runtime.role"  # "holder" or "container"
CONTAINER = "cloudops.ecs-runtime.container"
CONTAINERS = "cloudops.ecs-runtime.containers"  # on the holder: {container name: image} of the task, as JSON
ESSENTIAL = "cloudops.ecs-runtime.essential"
HEALTH_CHECKED = "cloudops.ecs-runtime.health-checked"
NETWORK = "cloudops.ecs-runtime.network"
AWSLOGS = "cloudops.ecs-runtime.awslogs"  # on a container: its AwsLogs, as JSON (so a restarted runtime ships on)
ESSENTIAL_EXITED = "Essential container in task exited"
HEALTH = {"healthy": "HEALTHY", "unhealthy": "UNHEALTHY"}


def holder_name(task_id: str) -> str:
    return f"cloudops-ecs-{task_id}"


def container_name(task_id: str, container: str) -> str:
    return f"cloudops-ecs-{task_id}-{container}"


def task_containers(client: docker.DockerClient, task_id: str) -> list[Any]:
    """The task's Docker containers, running or not (holder included)."""
    return docker_engine.containers(client, labels=[f"{TASK}={task_id}"])


def task_state(client: docker.DockerClient, task_id: str) -> TaskState:
    """The task as Docker shows it now; ``TaskNotFoundError`` when none of its containers is left."""
    found = task_containers(client, task_id)
    holder = next((c for c in found if c.labels.get(ROLE) == "holder"), None)
    if holder is None:
        raise TaskNotFoundError(f"no task {task_id} on this Docker engine (stopped and removed, or never started)")
    by_name = {c.labels[CONTAINER]: c for c in found if c.labels.get(ROLE) == "container"}
    images: dict[str, str] = json.loads(holder.labels[CONTAINERS])
    containers = [container_state(name, image, by_name.get(name)) for name, image in images.items()]
    running = holder.status == "running"
    last_status = (
        "STOPPED" if not running else "PENDING" if any(c.status == "PENDING" for c in containers) else "RUNNING"
    )
    state = holder.attrs["State"]
    network = holder.labels[NETWORK]
    exited = [c for c in containers if c.status == "STOPPED" and _label(by_name.get(c.name), ESSENTIAL)]
    return TaskState(
        task_id=task_id,
        ip=holder.attrs["NetworkSettings"]["Networks"].get(network, {}).get("IPAddress") or None,
        last_status=last_status,
        health=task_health([c for c in containers if _checked_essential(by_name.get(c.name))]),
        containers=containers,
        stopped_reason=None if running else ESSENTIAL_EXITED if exited else "Task stopped outside the runtime",
        started_at=docker_time(state.get("StartedAt")),
        stopped_at=None if running else docker_time(state.get("FinishedAt")),
        labels=task_labels(holder.labels),
    )


def container_state(name: str, image: str, container: Any | None) -> ContainerState:
    """One container of the task; PENDING while Docker has not created or started it."""
    if container is None:
        return ContainerState(name=name, image=image, image_digest=image.rsplit("@", 1)[-1], status="PENDING")
    state = container.attrs["State"]
    status = {"created": "PENDING", "running": "RUNNING", "restarting": "RUNNING"}.get(container.status, "STOPPED")
    health: HealthStatus = "UNKNOWN"
    if "Health" in state:
        health = "HEALTHY" if state["Health"]["Status"] == "healthy" else "UNKNOWN"
        health = "UNHEALTHY" if state["Health"]["Status"] == "unhealthy" else health
    reason = "OutOfMemoryError: container killed for lack of memory" if state.get("OOMKilled") else None
    return ContainerState(
        name=name,
        image=image,
        image_digest=image.rsplit("@", 1)[-1],
        status=status,
        exit_code=state.get("ExitCode") if status == "STOPPED" else None,
        health=health,
        reason=reason or state.get("Error") or None,
    )


def task_health(checked: list[ContainerState]) -> HealthStatus:
    """ECS's task health: UNHEALTHY when an essential container with a check is, HEALTHY when all of them are."""
    if any(c.health == "UNHEALTHY" for c in checked):
        return "UNHEALTHY"
    if checked and all(c.health == "HEALTHY" for c in checked):
        return "HEALTHY"
    return "UNKNOWN"


def list_tasks(client: docker.DockerClient, labels: dict[str, str]) -> list[TaskState]:
    """The tasks whose labels include ``labels`` (all the runtime's tasks for ``{}``), oldest first."""
    filters = [f"{SANDBOX_LABEL}={ECS_LABEL_VALUE}", f"{ROLE}=holder", *(f"{k}={v}" for k, v in labels.items())]
    # sparse, then each inspected on its own: a holder removed between the listing and its inspection is skipped
    holders = []
    for listed in client.containers.list(all=True, filters={"label": filters}, sparse=True):
        try:
            holders.append(client.containers.get(listed.id))
        except NotFound:
            continue
    states = []
    for holder in sorted(holders, key=lambda h: h.attrs["Created"]):
        try:
            states.append(task_state(client, holder.labels[TASK]))
        except TaskNotFoundError:
            continue  # removed meanwhile
    return states


def container_logs(
    client: docker.DockerClient, task_id: str, container: str, since: float | None = None
) -> list[tuple[float, str]]:
    """The container's log lines (stdout and stderr) with their times (epoch seconds), those after ``since`` only."""
    try:
        raw = client.api.logs(container_name(task_id, container), timestamps=True, since=since or None)
    except NotFound:
        raise TaskNotFoundError(f"task {task_id} has no container {container!r} (not started, or removed)") from None
    lines = []
    for line in raw.decode(errors="replace").splitlines():
        stamp, _, text = line.partition(" ")
        at = docker_time(stamp)
        if at is not None and (since is None or at.timestamp() > since):
            lines.append((at.timestamp(), text))
    return lines


def task_labels(labels: dict[str, str]) -> dict[str, str]:
    """The task's own labels, without the runtime's."""
    return {k: v for k, v in labels.items() if not k.startswith(RESERVED_LABEL_PREFIXES)}


def docker_time(text: str | None) -> datetime | None:
    """A Docker time (RFC 3339 in UTC, nanoseconds); None for Docker's zero time or what is not a time."""
    if not text or text.startswith("0001-") or not text.endswith("Z"):
        return None
    whole, _, fraction = text[:-1].partition(".")
    try:
        return datetime.fromisoformat(f"{whole}.{fraction[:6]:0<6}").replace(tzinfo=UTC)
    except ValueError:
        return None


def _checked_essential(container: Any | None) -> bool:
    return _label(container, ESSENTIAL) and _label(container, HEALTH_CHECKED)


def _label(container: Any | None, key: str) -> bool:
    return container is not None and container.labels.get(key) == "true"
