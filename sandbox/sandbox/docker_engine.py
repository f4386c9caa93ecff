"""A Docker engine (Debian's ``docker.io``) of the sandbox's own.

It has its own socket, data and exec folders, no iptables and no bridge: containers use the host
network (the sandbox's servers are all on 127.0.0.1) or none. overlay2 storage, vfs where overlay2
cannot run. There is no Docker Hub here, so nothing pulls from it.
"""

from __future__ import annotations

import shutil
from typing import Any

import docker
from docker.errors import DockerException, NotFound

from sandbox.errors import SandboxError
from sandbox.processes import alive, reap, spawn, tail
from sandbox.state import SandboxState

STORAGE_DRIVERS = ("overlay2", "vfs")


def command(state: SandboxState, driver: str) -> list[str]:
    binary = shutil.which("dockerd")
    if binary is None:
        raise SandboxError("dockerd is not installed; run scripts/setup.sh (apt-get install docker.io)")
    return [
        binary,
        f"--host={state.docker_host}",
        f"--data-root={state.root / 'docker'}",
        f"--exec-root={state.runtime_dir / 'docker-exec'}",
        f"--pidfile={state.runtime_dir / 'dockerd.pid'}",
        f"--storage-driver={driver}",
        "--iptables=false",
        "--ip-forward=false",
        "--ip-masq=false",
        "--bridge=none",
        "--shutdown-timeout=5",
        "--log-level=warn",
    ]


def start(state: SandboxState, timeout: float = 60.0) -> int:
    """Start dockerd with the first storage driver that works; its pid once it answers."""
    import time

    state.runtime_dir.mkdir(parents=True, exist_ok=True)
    log = state.logs / "dockerd.log"
    for driver in STORAGE_DRIVERS:
        pid = spawn(command(state, driver), log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if answers(state):
                return pid
            reap(pid)
            if not alive(pid):
                break
            time.sleep(0.2)
        else:
            raise SandboxError(f"dockerd did not answer within {timeout:.0f} s; see {log}:\n{tail(log)}")
    raise SandboxError(f"dockerd failed with every storage driver {STORAGE_DRIVERS}; see {log}:\n{tail(log)}")


def client(state: SandboxState) -> docker.DockerClient:
    return docker.DockerClient(base_url=state.docker_host, timeout=300)


def containers(engine: docker.DockerClient, labels: list[str] | None = None, status: str | None = None) -> list[Any]:
    """The engine's containers, running or not (with ``labels``, in ``status``), each inspected. docker-py inspects
    each one it lists, and fails on one removed in between: the listing is taken again (one going is no error)."""
    filters: dict[str, Any] = {"label": labels or []}
    if status:
        filters["status"] = status
    for _ in range(5):
        try:
            return list(engine.containers.list(all=True, filters=filters))
        except NotFound:
            continue
    return list(engine.containers.list(all=True, filters=filters))


def answers(state: SandboxState) -> bool:
    if not state.docker_socket.exists():
        return False
    try:
        engine = docker.DockerClient(base_url=state.docker_host, timeout=5)
        try:
            return bool(engine.ping())
        finally:
            engine.close()
    except DockerException:
        return False
