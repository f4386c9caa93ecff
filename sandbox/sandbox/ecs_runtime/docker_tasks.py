"""ECS tasks run as Docker containers: started, stopped and reaped (the Docker side; no moto, no boto3).

A task's containers share one network namespace, as ``awsvpc`` gives them: a holder container (the first
container's image, ``sleep infinity``) joins the cluster's network with the task's aliases, and every
container of the task runs in the holder's namespace, so they reach each other on 127.0.0.1 and others reach
the task at the holder's address. Images are pulled by digest with the task's registry login, every time
(as the ECS agent does by default), so an image another stage pulled before is not run without its own
registry's say. Containers start in ``dependsOn`` order and are never restarted by Docker: what replaces
a task is the scheduler's decision, not Docker's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import docker
import httpx
from docker.errors import APIError, NotFound

from cloudops.registry import RegistryClient, RegistryError
from sandbox import docker_engine
from sandbox.ecs_runtime.networks import ECS_LABEL_VALUE, SANDBOX_LABEL, ensure_network
from sandbox.ecs_runtime.task_specs import (
    ContainerSpec,
    ContainerState,
    DependencyCondition,
    HealthCheck,
    TaskSpec,
    TaskState,
)
from sandbox.ecs_runtime.task_states import (
    AWSLOGS,
    CONTAINER,
    CONTAINERS,
    ESSENTIAL,
    ESSENTIAL_EXITED,
    HEALTH_CHECKED,
    NETWORK,
    ROLE,
    TASK,
    container_logs,
    container_name,
    holder_name,
    list_tasks,
    task_containers,
    task_state,
)
from sandbox.errors import TaskNotFoundError

__all__ = [
    "container_logs",
    "ensure_network",
    "list_tasks",
    "reap_exited",
    "start_task",
    "stop_task",
    "task_state",
]

POLL_SECONDS = 0.2
NANOSECONDS = 1_000_000_000
BeforeRemove = Callable[[TaskState], None]


def start_task(client: docker.DockerClient, spec: TaskSpec) -> TaskState:
    """Pull, then start the task's containers in dependsOn order; its state once all run (or STOPPED and gone).

    A task id that runs already is not started twice: its state is returned.
    """
    try:
        return task_state(client, spec.task_id)
    except TaskNotFoundError:
        pass
    for image in dict.fromkeys(c.image for c in spec.containers):
        refused = pull(client, spec, image)
        if refused is not None:
            return never_started(spec, image, f"CannotPullContainerError: {image}: {refused}")
    try:
        holder = start_holder(client, spec)
        for container in spec.start_order():
            unmet = wait_for_dependencies(client, spec, container)
            if unmet is not None:
                return abort(client, spec, unmet)
            run_container(client, spec, container, holder)
    except APIError as error:
        return abort(client, spec, f"CannotStartContainerError: {error.explanation}")
    except TaskNotFoundError:
        return abort(client, spec, "Task stopped while it started")
    return task_state(client, spec.task_id)


def abort(client: docker.DockerClient, spec: TaskSpec, reason: str) -> TaskState:
    """Stop and remove what a failed start left; the task's last state."""
    try:
        return stop_task(client, spec.task_id, reason)
    except TaskNotFoundError:
        return never_started(spec, None, reason)


def pull(client: docker.DockerClient, spec: TaskSpec, image: str) -> str | None:
    """Pull the image by digest with the task's registry login; the registry's refusal, or None.

    The registry is asked first, with that login: dockerd pulls nothing for a digest it holds already, and
    so would run an image that another stage's login pulled before.
    """
    login = spec.registry
    repository, digest = image.rsplit("@", 1)
    try:
        with RegistryClient(login, timeout=30) as registry:
            if registry.manifest_digest(repository.split("/", 1)[1], digest) is None:
                return f"manifest unknown: {login.host} has no {repository.split('/', 1)[1]}@{digest}"
    except (RegistryError, httpx.HTTPError) as error:
        return str(error)
    auth = {"username": login.username, "password": login.password.get_secret_value(), "serveraddress": login.host}
    try:
        for event in client.api.pull(repository, tag=digest, auth_config=auth, stream=True, decode=True):
            if "error" in event:
                return str(event["error"])
    except APIError as error:
        return str(error.explanation or error)
    return None


def never_started(spec: TaskSpec, image: str | None, reason: str) -> TaskState:
    """The state of a task that stopped before it ran (nothing of it is left in Docker)."""
    now = datetime.now(UTC)
    containers = [
        ContainerState(
            name=c.name,
            image=c.image,
            image_digest=c.digest,
            status="STOPPED",
            reason=reason if c.image == image else None,
        )
        for c in spec.containers
    ]
    return TaskState(
        task_id=spec.task_id,
        last_status="STOPPED",
        containers=containers,
        stopped_reason=reason,
        stopped_at=now,
        labels=dict(spec.labels),
    )


def start_holder(client: docker.DockerClient, spec: TaskSpec) -> str:
    """The holder of the task's network namespace, started on the task's network with its aliases (or in the
    engine's own network, for ``networkMode: host``); its id."""
    api = client.api
    network = "host" if spec.host_network else spec.network
    labels = base_labels(spec) | {
        ROLE: "holder",
        CONTAINERS: json.dumps({c.name: c.image for c in spec.containers}),
        NETWORK: network,
    }
    on_network: dict[str, Any] = {}
    if not spec.host_network:
        ensure_network(client, spec.network, {})
        endpoint = api.create_endpoint_config(aliases=list(spec.aliases))
        on_network = {
            "ports": sorted({port for c in spec.containers for port in c.port_mappings}),
            "networking_config": api.create_networking_config({spec.network: endpoint}),
        }
    created = api.create_container(
        spec.containers[0].image,
        command=["infinity"],
        entrypoint=["sleep"],
        name=holder_name(spec.task_id),
        labels=labels,
        # the containers joining its namespace share its /etc/hosts too (Docker refuses extra hosts on them)
        host_config=api.create_host_config(
            network_mode=network, restart_policy={"Name": "no"}, extra_hosts=dict(spec.hosts)
        ),
        **on_network,
    )
    api.start(created["Id"])
    return str(created["Id"])


def run_container(client: docker.DockerClient, spec: TaskSpec, container: ContainerSpec, holder: str) -> None:
    """Create and start one container of the task in the holder's network namespace."""
    client.api.start(create_container(client, spec, container, holder))


def create_container(client: docker.DockerClient, spec: TaskSpec, container: ContainerSpec, holder: str) -> str:
    """Create (not start) one container of the task in the holder's network namespace; its id."""
    api = client.api
    labels = base_labels(spec) | {
        ROLE: "container",
        CONTAINER: container.name,
        ESSENTIAL: str(container.essential).lower(),
        HEALTH_CHECKED: str(container.health_check is not None).lower(),
    }
    if container.logs is not None:
        labels[AWSLOGS] = container.logs.model_dump_json()
    binds = [f"{host}:{path}:{'ro' if read_only else 'rw'}" for host, path, read_only in container.mounts]
    created = api.create_container(
        container.image,
        command=container.command,
        entrypoint=container.entry_point,
        environment=dict(container.environment),
        name=container_name(spec.task_id, container.name),
        labels=labels,
        healthcheck=docker_healthcheck(container.health_check),
        host_config=api.create_host_config(
            network_mode=f"container:{holder}",
            binds=binds,
            restart_policy={"Name": "no"},
            log_config={"Type": "json-file", "Config": {}},
        ),
    )
    return str(created["Id"])


def docker_healthcheck(check: HealthCheck | None) -> dict[str, Any] | None:
    """An ECS health check as Docker's (its times in nanoseconds)."""
    if check is None:
        return None
    return {
        "test": list(check.command),
        "interval": int(check.interval * NANOSECONDS),
        "timeout": int(check.timeout * NANOSECONDS),
        "retries": check.retries,
        "start_period": int(check.start_period * NANOSECONDS),
    }


def base_labels(spec: TaskSpec) -> dict[str, str]:
    return dict(spec.labels) | {SANDBOX_LABEL: ECS_LABEL_VALUE, TASK: spec.task_id}


def wait_for_dependencies(client: docker.DockerClient, spec: TaskSpec, container: ContainerSpec) -> str | None:
    """Wait until the container's dependencies are met; None then, or why the task must stop."""
    by_name = {c.name: c for c in spec.containers}
    for dependency, condition in container.depends_on:
        deadline = time.monotonic() + by_name[dependency].start_timeout
        while True:
            exited = exited_essential(client, spec.task_id)
            if exited is not None:
                return f"{ESSENTIAL_EXITED} ({exited} exited before {container.name} started)"
            met = condition_met(inspect(client, spec.task_id, dependency), condition)
            if met is True:
                break
            if isinstance(met, str) or time.monotonic() > deadline:
                why = met if isinstance(met, str) else f"not within {by_name[dependency].start_timeout:.0f} s"
                return f"DependencyNotMet: {container.name} needs {dependency} {condition}: {why}"
            time.sleep(POLL_SECONDS)
    return None


def condition_met(attrs: dict[str, Any], condition: DependencyCondition) -> bool | str:
    """True when Docker's container state meets the dependsOn condition, False while it may, else why not."""
    state = attrs["State"]
    status, code = str(state["Status"]), state.get("ExitCode")
    health = (state.get("Health") or {}).get("Status")
    if condition == "START":
        return status in ("running", "exited")
    if condition == "COMPLETE":
        return status == "exited"
    if condition == "SUCCESS":
        return True if status == "exited" and code == 0 else f"it exited with {code}" if status == "exited" else False
    if health == "healthy":
        return True
    if health == "unhealthy" or status == "exited":
        return "it became unhealthy" if health == "unhealthy" else f"it exited with {code}"
    return False if health == "starting" else "it has no health check"


def inspect(client: docker.DockerClient, task_id: str, container: str) -> dict[str, Any]:
    try:
        return dict(client.api.inspect_container(container_name(task_id, container)))
    except NotFound:
        raise TaskNotFoundError(f"task {task_id} lost its container {container!r}") from None


def exited_essential(client: docker.DockerClient, task_id: str) -> str | None:
    """The name of an essential container of the task that has exited, if any."""
    for container in docker_engine.containers(client, [f"{TASK}={task_id}", f"{ESSENTIAL}=true"], status="exited"):
        return str(container.labels[CONTAINER])
    return None


def stop_task(
    client: docker.DockerClient,
    task_id: str,
    reason: str,
    timeout: int = 10,
    before_remove: BeforeRemove | None = None,
) -> TaskState:
    """Stop the task's containers (dependents first, SIGTERM then SIGKILL after ``timeout`` s) and remove them.

    The state returned is the task's last: STOPPED with ``reason`` and each container's exit code.
    ``before_remove`` sees that state while the containers still exist (to read their last logs).
    """
    found = task_containers(client, task_id)
    if not found:
        raise TaskNotFoundError(f"no task {task_id} to stop on this Docker engine")
    holders = [c for c in found if c.labels.get(ROLE) == "holder"]
    ip = task_state(client, task_id).ip if holders else None  # the address goes with the holder's network
    for container in sorted((c for c in found if c not in holders), key=lambda c: c.attrs["Created"], reverse=True):
        if container.status in ("running", "restarting", "paused"):
            _quietly(container.stop, timeout=timeout)
    for holder in holders:
        _quietly(holder.kill)  # sleep as pid 1 ignores SIGTERM, and holds nothing worth a clean stop
    state = task_state(client, task_id) if holders else None
    if state is not None:
        state = state.model_copy(update={"last_status": "STOPPED", "stopped_reason": reason, "ip": ip})
        if before_remove is not None:
            before_remove(state)
    for container in found:
        _quietly(container.remove, force=True, v=True)
    return state or TaskState(task_id=task_id, last_status="STOPPED", stopped_reason=reason)


def reap_exited(
    client: docker.DockerClient,
    before_remove: BeforeRemove | None = None,
    labels: dict[str, str] | None = None,
    stopping: frozenset[str] = frozenset(),
) -> list[TaskState]:
    """Stop and remove every task (whose labels include ``labels``) with an essential container that exited (ECS
    stops the whole task then), but those in ``stopping`` (being stopped: their app exits on the SIGTERM).

    Each state returned says "Essential container in task exited", and its containers their exit codes.
    """
    wanted = [
        f"{SANDBOX_LABEL}={ECS_LABEL_VALUE}",
        f"{ESSENTIAL}=true",
        *(f"{k}={v}" for k, v in (labels or {}).items()),
    ]
    found = client.containers.list(all=True, filters={"label": wanted, "status": "exited"}, sparse=True)
    task_ids = dict.fromkeys(c.attrs["Labels"][TASK] for c in found)
    reaped = []
    for task_id in (t for t in task_ids if t not in stopping):
        try:
            reaped.append(stop_task(client, task_id, ESSENTIAL_EXITED, before_remove=before_remove))
        except TaskNotFoundError:
            continue  # stopped meanwhile by someone else
    return reaped


def _quietly(action: Callable[..., object], **arguments: Any) -> None:
    """Run a stop or remove whose container may be gone already (removed meanwhile, or never started)."""
    try:
        action(**arguments)
    except NotFound:
        pass
    except APIError as error:
        if error.status_code not in (304, 409):  # already stopped; removal already in progress
            raise
