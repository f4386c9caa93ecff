"""What a task is asked to run (``TaskSpec``) and what Docker shows of it (``TaskState``), in ECS's terms.

A spec is checked when it is made: images by digest in the task's own registry, container names unique,
``dependsOn`` naming containers of the task without a cycle, at least one essential container.
"""

from __future__ import annotations

import re
from datetime import datetime
from graphlib import CycleError, TopologicalSorter
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cloudops.registry import RegistryLogin

DependencyCondition = Literal["START", "COMPLETE", "SUCCESS", "HEALTHY"]
LastStatus = Literal["PENDING", "RUNNING", "STOPPED"]
HealthStatus = Literal["HEALTHY", "UNHEALTHY", "UNKNOWN"]
RegistryAuth = RegistryLogin  # the stage's own registry: its url, user and password

# A task id and a container name become parts of Docker container names.
DOCKER_NAME = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,99}$"
DIGEST_REFERENCE = re.compile(r"^(?P<host>[^/]+)/(?P<repository>[a-z0-9._/-]+)@(?P<digest>sha256:[0-9a-f]{64})$")
# Our own labels; a spec's labels may not use these names.
RESERVED_LABEL_PREFIXES = ("cloudops.sandbox", "cloudops.ecs-runtime.")


class HealthCheck(BaseModel):
    """An ECS container health check; its defaults are ECS's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    command: list[str] = Field(min_length=2, description='["CMD-SHELL", "cmd"] or ["CMD", "exe", "arg", ...]')
    interval: float = Field(30, ge=1, le=300, description="seconds between checks")
    timeout: float = Field(5, ge=1, le=120, description="seconds a check may take")
    retries: int = Field(3, ge=1, le=10, description="failures in a row that make the container unhealthy")
    start_period: float = Field(0, ge=0, le=300, description="seconds in which failures do not count")

    @model_validator(mode="after")
    def _kind(self) -> HealthCheck:
        if self.command[0] not in ("CMD-SHELL", "CMD"):
            raise ValueError(f"a health check command starts with CMD-SHELL or CMD, not {self.command[0]!r}")
        return self


class AwsLogs(BaseModel):
    """A container's ``awslogs`` log configuration: where its output goes in CloudWatch Logs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    group: str = Field(min_length=1, max_length=512, description="awslogs-group")
    region: str = Field(min_length=1, description="awslogs-region")
    stream_prefix: str = Field(min_length=1, description="awslogs-stream-prefix: <prefix>/<container>/<task>")

    def stream(self, container: str, task_id: str) -> str:
        """The stream of one container of one task, as ECS names it."""
        return f"{self.stream_prefix}/{container}/{task_id}"


class ContainerSpec(BaseModel):
    """One container of a task definition."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=DOCKER_NAME)
    image: str = Field(description="registry_host/repository@sha256:<digest>")
    essential: bool = True
    command: list[str] | None = None
    entry_point: list[str] | None = None
    environment: dict[str, str] = Field(default_factory=dict)
    depends_on: list[tuple[str, DependencyCondition]] = Field(default_factory=list)
    health_check: HealthCheck | None = None
    port_mappings: list[int] = Field(default_factory=list, description="container ports")
    mounts: list[tuple[str, str, bool]] = Field(
        default_factory=list, description="(host folder, container path, read only)"
    )
    start_timeout: float = Field(120, gt=0, le=600, description="seconds a dependency may take to be met")
    logs: AwsLogs | None = Field(default=None, description="where its output is shipped; None: nowhere")

    @model_validator(mode="after")
    def _by_digest(self) -> ContainerSpec:
        if DIGEST_REFERENCE.match(self.image) is None:
            raise ValueError(f"container {self.name!r}: image {self.image!r} is not registry/repository@sha256:...")
        return self

    @property
    def registry_host(self) -> str:
        return self.image.split("/", 1)[0]

    @property
    def digest(self) -> str:
        return self.image.rsplit("@", 1)[1]


class TaskSpec(BaseModel):
    """A task to run: its containers, the network and names others reach it by, and its registry login."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task_id: str = Field(pattern=DOCKER_NAME)
    labels: dict[str, str] = Field(
        default_factory=dict, description="account, region, cluster, service, task definition, deployment ..."
    )
    network: str
    host_network: bool = Field(
        default=False, description="networkMode host: the task shares the engine's network (no network, no aliases)"
    )
    aliases: list[str] = Field(default_factory=list, description="DNS names of the task on its network")
    hosts: dict[str, str] = Field(
        default_factory=dict, description="host name -> address in the task's /etc/hosts (its containers' links)"
    )
    containers: list[ContainerSpec] = Field(min_length=1)
    registry: RegistryAuth

    @model_validator(mode="after")
    def _consistent(self) -> TaskSpec:
        names = [container.name for container in self.containers]
        if len(set(names)) != len(names):
            raise ValueError(f"task {self.task_id}: container names repeat: {names}")
        if not any(container.essential for container in self.containers):
            raise ValueError(f"task {self.task_id}: no container is essential")
        for container in self.containers:
            unknown = [name for name, _ in container.depends_on if name not in names]
            if unknown:
                raise ValueError(f"container {container.name!r} depends on unknown containers {unknown}")
            if container.registry_host != self.registry.host:
                raise ValueError(
                    f"container {container.name!r}: image {container.image} is not in the task's registry "
                    f"{self.registry.host}; copy it there first (a stage runs only its own registry's images)"
                )
        reserved = [key for key in self.labels if key.startswith(RESERVED_LABEL_PREFIXES)]
        if reserved:
            raise ValueError(f"labels {reserved} use the runtime's own prefixes {RESERVED_LABEL_PREFIXES}")
        self.start_order()  # a cycle is an error now, not at start
        return self

    def start_order(self) -> list[ContainerSpec]:
        """The containers in an order that starts each after what it depends on (the spec's order otherwise)."""
        graph = {c.name: [name for name, _ in c.depends_on] for c in self.containers}
        try:
            order = list(TopologicalSorter(graph).static_order())
        except CycleError as error:
            raise ValueError(f"task {self.task_id}: dependsOn has a cycle: {error.args[1]}") from None
        by_name = {c.name: c for c in self.containers}
        return [by_name[name] for name in order]


class ContainerState(BaseModel):
    """What Docker shows of one container, in ECS's words."""

    model_config = ConfigDict(extra="forbid")

    name: str
    image: str
    image_digest: str
    status: LastStatus
    exit_code: int | None = None
    health: HealthStatus = "UNKNOWN"
    reason: str | None = None


class TaskState(BaseModel):
    """What Docker shows of one task, in ECS's words."""

    model_config = ConfigDict(extra="forbid")

    task_id: str
    ip: str | None = None
    last_status: LastStatus
    health: HealthStatus = "UNKNOWN"
    containers: list[ContainerState] = Field(default_factory=list)
    stopped_reason: str | None = None
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    labels: dict[str, str] = Field(default_factory=dict)
