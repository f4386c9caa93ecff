"""What moto holds and what the runtime found, in moto's own process: the services to run (with their task
definitions resolved, their environment files read from the account's bucket and their secrets from its
parameter store) and, back, each service's tasks, counts, deployments and its targets' health."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from moto.ecs.models import Task, ecs_backends
from moto.efs.models import efs_backends
from moto.elbv2.models import elbv2_backends
from moto.logs.models import logs_backends
from moto.moto_api._internal.managed_state_model import ManagedState
from moto.s3.models import s3_backends
from moto.secretsmanager.models import secretsmanager_backends
from moto.ssm.models import ssm_backends

from sandbox import moto_ecs_fixes


@dataclass(frozen=True)
class ServiceView:
    """One ECS service as the runtime must run it."""

    account: str
    region: str
    cluster: str
    name: str
    arn: str
    desired_count: int
    task_definition_arn: str
    containers: list[dict[str, Any]]
    deployment_id: str
    volumes: list[dict[str, Any]] = field(default_factory=list)
    network_mode: str = "awsvpc"  # the task definition's; "host" shares the engine's (the EC2 instance's) network
    load_balancers: list[dict[str, Any]] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    rollback_on_failure: bool = True
    previous_task_definition: str | None = None
    rollout_state: str = "IN_PROGRESS"  # the PRIMARY deployment's

    @property
    def key(self) -> str:
        return self.arn


@dataclass(frozen=True)
class Listener:
    """A load balancer listener the runtime plays: its loopback address, port, and the target group it forwards to."""

    address: str
    port: int
    target_group_arn: str


@dataclass(frozen=True)
class TargetGroup:
    arn: str
    port: int
    health_check_path: str
    interval_seconds: int


def backends(per_account: Any) -> Iterator[tuple[str, str, Any]]:
    """Every (account, region, backend) of a moto backend dict (typed loosely: moto's models are not)."""
    yield from per_account.iter_backends()


def services() -> list[ServiceView]:
    """Every ACTIVE service moto holds, in every account and region."""
    found = []
    for account, region, backend in backends(ecs_backends):
        for service in list(backend.services.values()):
            if service.status != "ACTIVE" or not service.task_definition:
                continue
            definition = backend.describe_task_definition(service.task_definition)
            primary: dict[str, Any] = next((d for d in service.deployments if d["status"] == "PRIMARY"), {})
            stable = getattr(service, "sandbox_stable_task_definition", None)
            connect = getattr(service, "sandbox_service_connect", {}) or {}
            aliases = [
                alias.get("DnsName", "")
                for entry in connect.get("Services", [])
                for alias in entry.get("ClientAliases", [])
                if alias.get("DnsName")
            ]
            configuration = getattr(service, "sandbox_deployment_configuration", {}) or {}
            breaker = configuration.get("DeploymentCircuitBreaker", {})
            found.append(
                ServiceView(
                    account=account,
                    region=region,
                    cluster=service.cluster_name,
                    name=service.name,
                    arn=service.arn,
                    desired_count=int(service.desired_count or 0),
                    task_definition_arn=definition.arn,
                    containers=[dict(c) for c in definition.container_definitions],
                    volumes=[dict(v) for v in definition.volumes or []],
                    network_mode=str(definition.network_mode or "awsvpc"),
                    deployment_id=str(primary.get("id", "")),
                    load_balancers=list(service.load_balancers or []),
                    aliases=aliases,
                    rollback_on_failure=bool(breaker.get("Rollback", True)),
                    previous_task_definition=stable if stable != definition.arn else None,
                    rollout_state=str(primary.get("rolloutState", "IN_PROGRESS")),
                )
            )
    return found


def listeners() -> list[Listener]:
    """Every listener of a load balancer on a loopback address (see moto_ecs_fixes)."""
    found = []
    for _account, _region, backend in backends(elbv2_backends):
        for balancer in list(backend.load_balancers.values()):
            if not str(balancer.dns_name).startswith(moto_ecs_fixes.LOOPBACK_NET):
                continue
            for listener in list(balancer.listeners.values()):
                for action in listener.default_actions:
                    group = action.data.get("TargetGroupArn") if hasattr(action, "data") else None
                    if group:
                        found.append(Listener(str(balancer.dns_name), int(listener.port), str(group)))
    return found


def target_group(arn: str) -> TargetGroup | None:
    for _account, _region, backend in backends(elbv2_backends):
        group = backend.target_groups.get(arn)
        if group is not None:
            return TargetGroup(
                arn=arn,
                port=int(group.port or 80),
                health_check_path=str(group.health_check_path or "/"),
                interval_seconds=int(group.health_check_interval_seconds or 30),
            )
    return None


def register_targets(arn: str, targets: set[tuple[str, int]]) -> None:
    """The target group holds exactly ``targets`` (task address, port); the others are deregistered."""
    for _account, _region, backend in backends(elbv2_backends):
        group = backend.target_groups.get(arn)
        if group is None:
            continue
        present = {(t["Id"], int(t["Port"])) for t in group.targets.values()}
        gone = [{"Id": i, "Port": p} for i, p in present - targets]
        if gone:
            group.deregister(gone)
        new = [{"Id": i, "Port": p} for i, p in targets - present]
        if new:
            group.register(new)


def set_target_health(arn: str, health: dict[tuple[str, int], tuple[str, str]]) -> None:
    moto_ecs_fixes.TARGET_HEALTH[arn] = dict(health)


def environment_file(account: str, location: str) -> dict[str, str]:
    """An ECS environment file (``arn:aws:s3:::bucket/key``) read from the account's bucket."""
    bucket, _, key = location.removeprefix("arn:aws:s3:::").partition("/")
    stored: Any = s3_backends[account]["global"].get_object(bucket, key)
    if stored is None:
        raise LookupError(f"environment file {location} is not in account {account}'s bucket")
    values = {}
    for line in stored.value.decode().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def access_point_root(account: str, region: str, access_point: str) -> str | None:
    """An EFS access point's root directory path, or None when the account has no such access point."""
    found: Any = efs_backends[account][region].access_points.get(access_point)
    return None if found is None else str((found.root_directory or {}).get("Path") or "/")


def secret(account: str, region: str, value_from: str) -> str:
    """A container secret as ECS resolves it: from Secrets Manager (``arn:...:secretsmanager:...:secret:NAME``,
    optionally ``:json-key:version-stage:version-id``), else from the account's parameter store (an ARN or a
    name), decrypted."""
    if ":secretsmanager:" in value_from:
        return manager_secret(value_from)
    name = value_from.split(":parameter", 1)[1] if ":parameter" in value_from else value_from
    parameter: Any = ssm_backends[account][region].get_parameter(name)
    if parameter is None:
        raise LookupError(f"secret {value_from} is not in account {account}'s parameter store")
    value = parameter.value
    if parameter.parameter_type == "SecureString":
        value = parameter.decrypt(value) or value
    return str(value)


def manager_secret(value_from: str) -> str:
    """A Secrets Manager secret (or one JSON key of it), from the account and region its ARN names."""
    parts = value_from.split(":")
    if len(parts) < 7:
        raise LookupError(f"secret {value_from} is not a Secrets Manager ARN (arn:aws:secretsmanager:...:secret:NAME)")
    key, stage, version = (parts[7:] + ["", "", ""])[:3]
    backend: Any = secretsmanager_backends[parts[4]][parts[3]]
    try:
        found = backend.get_secret_value(":".join(parts[:7]), version or None, stage or None)
    except Exception as error:  # moto's SecretNotFoundException, ResourceNotFoundException ...
        raise LookupError(f"secret {value_from} is not in account {parts[4]}'s Secrets Manager: {error}") from None
    text = str(found.get("SecretString") or "")
    if not key:
        return text
    try:
        return str(json.loads(text)[key])
    except (ValueError, KeyError, TypeError):
        raise LookupError(f"secret {value_from}: its value has no JSON key {key!r}") from None


def log_group_exists(account: str, region: str, group: str) -> bool:
    return group in logs_backends[account][region].groups


def ensure_log_group(account: str, region: str, group: str) -> None:
    logs_backends[account][region].ensure_log_group(group)


class SandboxTask(Task):
    """A task the runtime runs, as describe-tasks reports it: its status is what Docker says, never advanced."""

    def __init__(self, service: ServiceView, task_id: str, observed: dict[str, Any]) -> None:
        backend = ecs_backends[service.account][service.region]
        cluster = backend.clusters[service.cluster]
        ManagedState.__init__(self, model_name="ecs::task", transitions=[("RUNNING", "RUNNING")])
        self.id = task_id
        self.cluster_name, self.cluster_arn = cluster.name, cluster.arn
        self.container_instance_arn = None
        self.task_definition_arn = observed["task_definition"]
        self.overrides: dict[str, Any] = {}
        self.started_by = observed.get("deployment_id", "")
        self.group = f"service:{service.name}"
        self.tags: list[dict[str, str]] = []
        self.launch_type = "FARGATE"
        self.capacity_provider_name = None
        self.platform_version = None
        self.resource_requirements = None
        self.region_name = service.region
        self._account_id = service.account
        self._backend = backend
        self.update(observed)

    def update(self, observed: dict[str, Any]) -> None:
        self.sandbox_status = observed["last_status"]
        self.desired_status = "RUNNING" if observed["last_status"] in ("PENDING", "RUNNING") else "STOPPED"
        self.health_status = observed.get("health", "UNKNOWN")
        self.stopped_reason = observed.get("stopped_reason", "")
        self.started_at = observed.get("started_at")
        self.stopped_at = observed.get("stopped_at")
        self.containers = observed.get("containers", [])
        address = observed.get("ip", "")
        self.attachments = [
            {
                "id": f"eni-{self.id[:8]}",
                "type": "ElasticNetworkInterface",
                "status": "ATTACHED",
                "details": [{"name": "privateIPv4Address", "value": address}],
            }
        ]

    @property
    def last_status(self) -> str:
        return str(self.sandbox_status)

    @last_status.setter
    def last_status(self, value: str) -> None:
        self.sandbox_status = value

    def advance(self) -> None:
        return None


def record(service: ServiceView, tasks: dict[str, dict[str, Any]], failed: dict[str, int], rollout: str) -> None:
    """Write what runs into moto: the service's tasks, its counts, each deployment's counts and rollout state."""
    backend = ecs_backends[service.account][service.region]
    moto_service = backend.services.get(f"{service.cluster}:{service.name}")
    cluster_tasks = backend.tasks.setdefault(service.cluster, {})
    known_arns = {
        str(task.id): arn
        for arn, task in list(cluster_tasks.items())
        if isinstance(task, SandboxTask) and task.group == f"service:{service.name}"
    }
    for task_id, observed in tasks.items():
        known = cluster_tasks.get(known_arns.get(task_id, ""))
        if isinstance(known, SandboxTask):
            known.update(observed)
        else:
            task = SandboxTask(service, task_id, observed)
            cluster_tasks[task.task_arn] = task
    for gone in set(known_arns) - set(tasks):  # neither running nor among the last stopped: forgotten, as by ECS
        cluster_tasks.pop(known_arns[gone], None)
    if moto_service is None:
        return
    running = [t for t in tasks.values() if t["last_status"] == "RUNNING"]
    pending = [t for t in tasks.values() if t["last_status"] == "PENDING"]
    moto_service.running_count, moto_service.pending_count = len(running), len(pending)
    now = datetime.now()
    for deployment in moto_service.deployments:
        # a deployment started since the round read the service (a deploy, meanwhile) is not this round's to judge
        judged = deployment["status"] == "PRIMARY" and str(deployment["id"]) == service.deployment_id
        mine = [t for t in tasks.values() if t["task_definition"] == deployment["taskDefinition"]]
        deployment["runningCount"] = sum(1 for t in mine if t["last_status"] == "RUNNING")
        deployment["pendingCount"] = sum(1 for t in mine if t["last_status"] == "PENDING")
        deployment["failedTasks"] = failed.get(str(deployment["id"]), 0)
        if judged and rollout == "COMPLETED":
            setattr(moto_service, "sandbox_stable_task_definition", deployment["taskDefinition"])  # noqa: B010
        # A rollout ends once, as on ECS: COMPLETED or FAILED stays (a task replaced later does not reopen it)
        ended = deployment.get("rolloutState") in ("COMPLETED", "FAILED")
        if judged and deployment.get("rolloutState") != rollout and not ended:
            deployment["rolloutState"] = rollout
            deployment["rolloutStateReason"] = f"ECS deployment {deployment['id']} {rollout.lower().replace('_', ' ')}."
            deployment["updatedAt"] = now
    # NOTE: ECS counts a task against the deployment that started it; the sandbox counts it against the deployment
    # of its task definition, so a rollback's deployment takes over the running tasks of the earlier one.
    primary = next((d["taskDefinition"] for d in moto_service.deployments if d["status"] == "PRIMARY"), None)
    moto_service.deployments = [
        d
        for d in moto_service.deployments
        if d["status"] == "PRIMARY" or (d["taskDefinition"] != primary and (d["runningCount"] or d["pendingCount"]))
    ]
