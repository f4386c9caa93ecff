"""moto's ECS and ELBv2 made to tell what the sandbox's ECS runtime really runs (moto runs nothing itself).

Read in moto 5.2.5's source; each fix is pinned by sandbox/sandbox_tests/test_moto_ecs_fixes.py:

1. A service created by CloudFormation keeps its ``LoadBalancers`` and ``ServiceConnectConfiguration``
   (``Service.create_from_cloudformation_json`` passes neither on), so the runtime knows which target group
   a service's tasks join and by which name other tasks reach them.
2. A stack update that replaces a task definition moves the services that ran the old revision to the new
   one, as CloudFormation does (moto re-registers the task definition but leaves the service on the old,
   now INACTIVE, revision): a new PRIMARY deployment, the old one ACTIVE until the runtime has rolled. That
   holds for a service running another revision since (rolled back by the circuit breaker, or updated by
   hand): CloudFormation updates the service its stack declares, whatever it runs.
3. A load balancer's DNS name is a loopback address of its own (``127.N.x.y``), where the runtime plays its
   listeners; the stack's ``AppEndpoint`` output (``http://${LoadBalancer.DNSName}``) then answers.
4. A target's health is what the runtime's health checks found (moto says "healthy" for any target).
5. A stack's deletion deletes its services (moto has no CloudFormation delete for them: they stayed ACTIVE).
6. Every change to a service (create, update, delete, through the API or a stack) wakes the runtime.
7. ``ListTasks`` with ``serviceName`` lists that service's tasks only (moto ignored the filter).
8. A stack's service without ``DesiredCount`` starts with one task, as CloudFormation documents (moto: none), and a
   stack update without it keeps the count the service has (what Application Auto Scaling set).
"""

from __future__ import annotations

import itertools
import os
import socket
import threading
from collections.abc import Callable
from typing import Any

from moto.core.utils import pascal_to_camelcase, remap_nested_keys, utcnow
from moto.ecs.models import EC2ContainerServiceBackend, Service, ecs_backends
from moto.elbv2.models import ELBv2Backend, FakeHealthStatus, FakeTargetGroup, elbv2_backends

from sandbox.ecs_runtime.config import LOOPBACK_NET_ENV

# Each sandbox's load balancers on loopback addresses of their own (the sandbox picks the second octet from its
# moto port), so a test suite's sandbox and a demo's never share an address.
LOOPBACK_NET = os.environ.get(LOOPBACK_NET_ENV, "127.77")
_addresses = itertools.count(1)
_address_lock = threading.Lock()
# Target health the runtime observed: target group ARN -> (target id, port) -> (state, reason).
TARGET_HEALTH: dict[str, dict[tuple[str, int], tuple[str, str]]] = {}
_listeners: list[Callable[[], None]] = []
# The task definition a stack's service was last given by its stack (fix 2), whatever it runs since.
STACK_TASK_DEFINITION = "sandbox_stack_task_definition"


def on_change(callback: Callable[[], None]) -> None:
    """Call ``callback`` (it must return at once) after every change to an ECS service."""
    _listeners.append(callback)


def changed() -> None:
    for callback in _listeners:
        callback()


def loopback_address() -> str:
    """The next address of this sandbox's range that no load balancer has (restored ones included, whose
    listeners may not be up yet) and where nothing listens on the listener ports yet."""
    with _address_lock:
        backends: list[Any] = [backend for _account, _region, backend in elbv2_backends.iter_backends()]
        taken = {str(balancer.dns_name) for backend in backends for balancer in list(backend.load_balancers.values())}
        while True:
            n = next(_addresses)
            address = f"{LOOPBACK_NET}.{n // 250}.{n % 250 + 1}"
            if address not in taken and _free(address, 80):
                return address


def _free(address: str, port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((address, port))
        except OSError:
            return False
    return True


_create_service_cfn = Service.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]


def create_service_from_cloudformation(
    cls: Any, resource_name: str, cloudformation_json: Any, *args: Any, **kw: Any
) -> Any:
    service = _create_service_cfn(cls, resource_name, cloudformation_json, *args, **kw)
    properties = cloudformation_json["Properties"]
    if properties.get("DesiredCount") is None:
        service.desired_count = 1
    service.load_balancers = remap_nested_keys(properties.get("LoadBalancers", []), pascal_to_camelcase)
    service.sandbox_service_connect = properties.get("ServiceConnectConfiguration") or {}
    service.sandbox_deployment_configuration = properties.get("DeploymentConfiguration") or {}
    setattr(service, STACK_TASK_DEFINITION, service.task_definition)
    return service


def delete_service_with_its_stack(
    cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
) -> None:
    """A stack's deletion deletes its services (moto's Service has no CloudFormation delete: they stayed ACTIVE)."""
    backend = ecs_backends[account_id][region_name]
    for service in list(backend.services.values()):
        if resource_name in (service.arn, service.name) and service.status == "ACTIVE":
            backend.delete_service(service.cluster_name, service.name, force=True)


def follow_new_task_definition(
    account_id: str, region: str, old_arn: str, new_arn: str, *, by_stack: bool = True
) -> None:
    """The services of ``old_arn`` now deploy ``new_arn``: a new PRIMARY deployment, the old one ACTIVE.

    ``by_stack``: a stack update replaced the task definition, and CloudFormation updates the service its stack
    declares with it, whatever that service runs now (the circuit breaker may have rolled it back to an earlier
    revision, or someone updated it by hand). Else (the circuit breaker) the services running ``old_arn``."""
    backend = ecs_backends[account_id][region]
    names = (old_arn, old_arn.rsplit("/", 1)[-1])
    for service in list(backend.services.values()):
        declared = getattr(service, STACK_TASK_DEFINITION, None) if by_stack else None
        if service.task_definition not in names and declared not in names:
            continue
        service.task_definition = new_arn
        if by_stack:
            setattr(service, STACK_TASK_DEFINITION, new_arn)
        start_deployment(service, new_arn)
    changed()


def start_deployment(service: Any, task_definition: str) -> None:
    now = utcnow()
    for deployment in service.deployments:
        if deployment["status"] == "PRIMARY":
            deployment["status"] = "ACTIVE"
    identifier = f"ecs-svc/{abs(hash((service.arn, task_definition, now))) % 10**16:016d}"
    service.deployments.insert(
        0,
        {
            "id": identifier,
            "status": "PRIMARY",
            "taskDefinition": task_definition,
            "desiredCount": service.desired_count,
            "pendingCount": 0,
            "runningCount": 0,
            "failedTasks": 0,
            "createdAt": now,
            "updatedAt": now,
            "launchType": service.launch_type,
            "rolloutState": "IN_PROGRESS",
            "rolloutStateReason": f"ECS deployment {identifier} in progress.",
        },
    )


_create_load_balancer = ELBv2Backend.create_load_balancer


def create_load_balancer(self: Any, *args: Any, **kwargs: Any) -> Any:
    balancer = _create_load_balancer(self, *args, **kwargs)
    balancer.dns_name = loopback_address()
    return balancer


_health_for = FakeTargetGroup.health_for


def health_for(self: Any, target: dict[str, Any], ec2_backend: Any) -> Any:
    found = _health_for(self, target, ec2_backend)
    registered = self.targets.get(target["Id"])
    if registered is None:
        return found
    state, reason = TARGET_HEALTH.get(self.arn, {}).get((registered["Id"], int(registered["Port"])), ("initial", ""))
    if state == "healthy":
        return FakeHealthStatus(registered["Id"], registered["Port"], self.health_check_port, "healthy")
    return FakeHealthStatus(
        registered["Id"], registered["Port"], self.health_check_port, state, reason or None, reason or None
    )


def notifying(method: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = method(*args, **kwargs)
        changed()
        return result

    return wrapper


_update_service = EC2ContainerServiceBackend.update_service


def update_service(self: Any, service_properties: dict[str, Any]) -> Any:
    """A new task definition through the API starts a deployment too (moto only stores the name)."""
    wanted = service_properties.get("task_definition")
    service = _update_service(self, dict(service_properties))
    if wanted:
        arn = self.describe_task_definition(wanted).arn
        primary = next((d for d in service.deployments if d["status"] == "PRIMARY"), None)
        service.task_definition = arn
        if primary is None or primary["taskDefinition"] != arn:
            start_deployment(service, arn)
    changed()
    return service


_list_tasks = EC2ContainerServiceBackend.list_tasks


def list_tasks(
    self: Any,
    cluster_str: str | None = None,
    container_instance: str | None = None,
    family: str | None = None,
    started_by: str | None = None,
    service_name: str | None = None,
    desired_status: str | None = None,
) -> Any:
    """``serviceName`` filters the tasks to that service's (moto ignores it: its services ran no task)."""
    found = _list_tasks(self, cluster_str, container_instance, family, started_by, service_name, desired_status)
    return [t for t in found if t.group == f"service:{service_name}"] if service_name else found


PATCHES: list[tuple[type, str, object]] = [
    (Service, "create_from_cloudformation_json", classmethod(create_service_from_cloudformation)),
    (Service, "delete_from_cloudformation_json", classmethod(delete_service_with_its_stack)),
    (ELBv2Backend, "create_load_balancer", create_load_balancer),
    (FakeTargetGroup, "health_for", health_for),
    (EC2ContainerServiceBackend, "update_service", update_service),
    (EC2ContainerServiceBackend, "list_tasks", list_tasks),
    *(
        (EC2ContainerServiceBackend, name, notifying(getattr(EC2ContainerServiceBackend, name)))
        for name in ("create_service", "delete_service")
    ),
]


def apply() -> None:
    for owner, name, fixed in PATCHES:
        setattr(owner, name, fixed)
