"""Each ECS cluster of each account gets a bridge network of its own, which the sandbox creates.

The sandbox's dockerd runs without its default bridge, iptables or forwarding; a user-defined bridge still
works there: its containers get addresses, reach each other (by alias through Docker's DNS) and are reached
from this machine at their addresses. The networks are ``internal`` (no default route, and Docker's DNS
forwards no name it does not know), so a task reaches only the tasks of its cluster and nothing beyond.
Subnets are /24s of 10.212.0.0/16, the first one that no Docker network and no route of this machine uses.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import threading
from pathlib import Path

import docker
from docker.errors import APIError, NotFound

from sandbox.errors import SandboxError

SANDBOX_LABEL = "cloudops.sandbox"
ECS_LABEL_VALUE = "ecs"
SUBNETS = ipaddress.IPv4Network("10.212.0.0/16")


def network_name(account: str, cluster: str) -> str:
    """The name of an account's cluster's network, as Docker allows names."""
    return re.sub(r"[^a-zA-Z0-9_.-]", "-", f"cloudops-ecs-{account}-{cluster}")


# Docker lets two networks have one name: tasks started at once would each make one, and a container then
# joins an ambiguous name. One creation at a time in this process (the runtime is the only creator).
_creating = threading.Lock()


def ensure_network(client: docker.DockerClient, name: str, labels: dict[str, str]) -> str:
    """The id of the network ``name``, created (bridge, internal, a free 10.212.N.0/24) when missing."""
    with _creating:
        return _ensure_network(client, name, labels)


def _ensure_network(client: docker.DockerClient, name: str, labels: dict[str, str]) -> str:
    existing = _find(client, name)
    if existing is not None:
        return existing
    for subnet in _free_subnets(client):
        ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=str(subnet))])
        try:
            network = client.networks.create(
                name,
                driver="bridge",
                internal=True,
                ipam=ipam,
                labels={**labels, SANDBOX_LABEL: ECS_LABEL_VALUE},
            )
        except APIError as error:
            if "overlaps" in str(error.explanation):
                continue  # taken meanwhile by another network: the next one
            if error.status_code == 409:
                found = _find(client, name)
                if found is not None:
                    return found  # made meanwhile by another caller
            raise SandboxError(f"cannot create the Docker network {name}: {error.explanation}") from None
        return str(network.id)
    raise SandboxError(f"no free /24 left in {SUBNETS} for the network {name}; remove unused ECS networks")


def remove_sandbox_networks(client: docker.DockerClient) -> int:
    """Remove every network the sandbox made, and the containers on them; how many networks went.

    dockerd leaves a network's bridge in the kernel when it stops (and makes it again when it starts): a
    sandbox that is not coming back (purged, or a test session's) removes its networks first, or the machine
    keeps one bridge, and one /24 of SUBNETS, per network it ever made."""
    removed = 0
    for network in client.networks.list(filters={"label": SANDBOX_LABEL}):
        network.reload()
        for container in network.attrs.get("Containers") or {}:
            with contextlib.suppress(NotFound):
                client.api.remove_container(container, force=True, v=True)
        with contextlib.suppress(NotFound):
            network.remove()
            removed += 1
    return removed


def remove_network(client: docker.DockerClient, name: str) -> bool:
    """Remove the network (it must have no container left); False when there was none."""
    try:
        client.networks.get(name).remove()
    except NotFound:
        return False
    return True


def _find(client: docker.DockerClient, name: str) -> str | None:
    for network in client.networks.list(names=[name]):
        if network.name == name:
            return str(network.id)
    return None


def _free_subnets(client: docker.DockerClient) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    used = _host_routes()
    for network in client.networks.list():
        for pool in (network.attrs.get("IPAM") or {}).get("Config") or []:
            if pool.get("Subnet"):
                used.append(ipaddress.ip_network(pool["Subnet"], strict=False))
    return [
        subnet
        for subnet in SUBNETS.subnets(new_prefix=24)
        if not any(subnet.version == other.version and subnet.overlaps(other) for other in used)
    ]


def _host_routes() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The IPv4 destinations this machine routes (not the default route), from /proc/net/route."""
    routes: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    path = Path("/proc/net/route")
    lines = path.read_text().splitlines()[1:] if path.exists() else []
    for line in lines:
        fields = line.split()
        destination, mask = (ipaddress.IPv4Address(bytes.fromhex(f)[::-1]) for f in (fields[1], fields[7]))
        if int(mask):
            routes.append(ipaddress.ip_network(f"{destination}/{mask}", strict=False))
    return routes
