"""The ECS runtime's Docker side, on the sandbox's real dockerd and a real stage registry.

The image is made of this machine's own binaries (tests/host_image.py) and pushed to QA's registry, so every
task pulls it by digest with QA's login, as an ECS task in the QA account pulls from QA's ECR.
"""

from __future__ import annotations

import ipaddress
import socket
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from sandbox.docker_engine import client as docker_client
from sandbox.ecs_runtime import docker_tasks
from sandbox.ecs_runtime.docker_tasks import (
    container_logs,
    ensure_network,
    list_tasks,
    reap_exited,
    start_task,
    stop_task,
    task_state,
)
from sandbox.ecs_runtime.networks import SUBNETS, network_name, remove_network
from sandbox.ecs_runtime.task_specs import TaskSpec, TaskState
from sandbox.ecs_runtime.task_states import docker_time, holder_name
from sandbox.errors import TaskNotFoundError
from sandbox.sandbox import Sandbox
from tests.docker_clusters import FETCH, RUN, UP, Cluster
from tests.polling import eventually


def http_get(ip: str, port: int) -> str:
    with socket.create_connection((ip, port), timeout=3) as connection:
        connection.sendall(b"GET / HTTP/1.0\r\n\r\n")
        return b"".join(iter(lambda: connection.recv(4096), b"")).decode().rsplit("\r\n\r\n", 1)[-1]


def finished(cluster: Cluster, task_id: str, container: str) -> list[str] | None:
    """The container's log lines once it has exited; None while it runs."""
    state = task_state(cluster.engine, task_id)
    if next(c for c in state.containers if c.name == container).status != "STOPPED":
        return None
    return [line for _, line in container_logs(cluster.engine, task_id, container, None)]


def test_b_waits_for_a_healthy_and_reaches_it_on_localhost(cluster: Cluster) -> None:
    spec = cluster.task(
        cluster.server("a", health_check=UP),
        cluster.shell(
            "b", f"python3 -c '{FETCH}' http://127.0.0.1:8080/", essential=False, depends_on=[("a", "HEALTHY")]
        ),
    )

    state = start_task(cluster.engine, spec)

    assert state.last_status == "RUNNING", state.model_dump_json(indent=1)
    assert state.health == "HEALTHY"  # b was started only once a was healthy
    assert eventually("b's answer from a", lambda: finished(cluster, spec.task_id, "b")) == ["a"]
    a, b = (cluster.engine.api.inspect_container(f"cloudops-ecs-{spec.task_id}-{n}")["State"] for n in "ab")
    first_healthy = min(docker_time(p["End"]) for p in a["Health"]["Log"] if p["ExitCode"] == 0)  # type: ignore[type-var]
    assert first_healthy <= docker_time(b["StartedAt"])  # type: ignore[operator]
    assert [c.exit_code for c in task_state(cluster.engine, spec.task_id).containers] == [None, 0]


def test_the_host_reaches_the_task_and_another_task_reaches_it_by_its_alias(cluster: Cluster) -> None:
    broker = start_task(cluster.engine, cluster.task(cluster.server("broker", health_check=UP), aliases=("broker",)))
    assert broker.last_status == "RUNNING" and broker.ip is not None
    assert ipaddress.ip_address(broker.ip) in SUBNETS

    assert eventually("the broker's answer", lambda: _answer(broker.ip or "", 8080)) == "broker"
    client = cluster.task(cluster.shell("client", f"python3 -c '{FETCH}' http://broker:8080/"))
    start_task(cluster.engine, client)
    assert eventually("the client's fetch", lambda: finished(cluster, client.task_id, "client")) == ["broker"]


def _answer(ip: str, port: int) -> str | None:
    try:
        return http_get(ip, port)
    except OSError:
        return None


def test_a_digest_missing_from_the_registry_stops_the_task_and_leaves_nothing(cluster: Cluster) -> None:
    missing = cluster.image.rsplit("@", 1)[0] + "@sha256:" + "0" * 64
    spec = cluster.task(cluster.server("app"), cluster.shell("sidecar", "sleep 60", image=missing))

    state = start_task(cluster.engine, spec)

    assert state.last_status == "STOPPED"
    assert state.stopped_reason is not None
    assert state.stopped_reason.startswith(f"CannotPullContainerError: {missing}: ")
    assert "manifest unknown" in state.stopped_reason or "not found" in state.stopped_reason
    assert [c.reason is not None for c in state.containers] == [False, True]
    assert cluster.ours() == []
    with pytest.raises(TaskNotFoundError):
        task_state(cluster.engine, spec.task_id)


def test_the_pull_uses_the_tasks_registry_login_even_for_an_image_pulled_before(cluster: Cluster) -> None:
    # Given the image pulled and run once with QA's own login
    first = start_task(cluster.engine, cluster.task(cluster.shell("app", "exit 0")))
    stop_task(cluster.engine, first.task_id, "done", timeout=1)
    # When a task presents prod's password to QA's registry
    qa = cluster.sandbox.state.registries["qa"]
    prod = cluster.sandbox.state.registries["prod"]
    spec = cluster.task(cluster.shell("app", "exit 0")).model_copy(
        update={"registry": qa.login(password=prod.password)}
    )
    state = start_task(cluster.engine, spec)
    # Then the registry refuses it, and nothing runs
    assert state.last_status == "STOPPED"
    assert state.stopped_reason is not None and state.stopped_reason.startswith("CannotPullContainerError: ")
    assert f"{qa.address} refused" in state.stopped_reason and "(401)" in state.stopped_reason
    assert cluster.ours() == []
    # And an image of another registry is refused before any pull
    with pytest.raises(ValidationError, match="is not in the task's registry"):
        TaskSpec.model_validate(spec.model_dump() | {"registry": prod.login()})


def test_an_essential_container_that_exits_is_reaped_and_the_rest_stopped(cluster: Cluster) -> None:
    spec = cluster.task(
        cluster.shell("sidecar", "trap 'exit 0' TERM; while :; do sleep 0.2; done", essential=False),
        cluster.shell("worker", "echo working; sleep 2; echo giving up; exit 3"),
    )
    assert start_task(cluster.engine, spec).last_status == "RUNNING"
    last_logs: dict[str, list[str]] = {}

    def keep_logs(state: TaskState) -> None:
        for container in state.containers:
            lines = container_logs(cluster.engine, state.task_id, container.name)
            last_logs[container.name] = [text for _, text in lines]
        first = container_logs(cluster.engine, state.task_id, "worker")[0][0]
        last_logs["worker since its first line"] = [
            t for _, t in container_logs(cluster.engine, state.task_id, "worker", first)
        ]

    reaped = eventually("the worker's exit reaped", lambda: reap_exited(cluster.engine, keep_logs) or None, 30)

    assert [s.task_id for s in reaped] == [spec.task_id]
    assert reaped[0].stopped_reason == "Essential container in task exited"
    assert {c.name: (c.status, c.exit_code) for c in reaped[0].containers} == {
        "sidecar": ("STOPPED", 0),  # stopped by SIGTERM, which its trap answers with 0
        "worker": ("STOPPED", 3),
    }
    assert last_logs["worker"] == ["working", "giving up"]
    assert last_logs["worker since its first line"] == ["giving up"]
    assert cluster.ours() == []


def test_stop_task_removes_every_container_of_the_task(cluster: Cluster) -> None:
    spec = cluster.task(
        cluster.server("app"),
        cluster.shell("sidecar", "trap 'exit 0' TERM; echo trapped; while :; do sleep 0.2; done"),
    )
    running = start_task(cluster.engine, spec)
    assert running.last_status == "RUNNING" and len(cluster.ours()) == 3  # the holder and two containers

    # each says when it will exit 0 on SIGTERM: a loaded machine may start a container's process later than the
    # task runs, and until then its pid 1 ignores the SIGTERM (proof 8 of issue 21 saw the app killed, 137)
    def said(container: str, line: str) -> bool | None:
        lines = container_logs(cluster.engine, spec.task_id, container)
        return True if any(line in text for _, text in lines) else None

    eventually("the app's handler set", lambda: said("app", "serving"), bound=30)
    eventually("the sidecar's trap set", lambda: said("sidecar", "trapped"), bound=30)

    stopped = stop_task(cluster.engine, spec.task_id, "Scaling activity initiated by (deployment ecs-svc/1)")

    assert stopped.last_status == "STOPPED"
    assert stopped.stopped_reason == "Scaling activity initiated by (deployment ecs-svc/1)"
    assert [c.exit_code for c in stopped.containers] == [0, 0]
    assert cluster.ours() == []
    assert list_tasks(cluster.engine, {RUN: cluster.run}) == []


def test_list_tasks_finds_tasks_by_their_labels_from_a_new_client(cluster: Cluster) -> None:
    sleeper = "trap 'exit 0' TERM; while :; do sleep 0.2; done"
    web = [
        start_task(cluster.engine, cluster.task(cluster.shell("app", sleeper), labels={"cloudops.ecs.service": "web"}))
        for _ in range(2)
    ]
    start_task(cluster.engine, cluster.task(cluster.shell("app", sleeper), labels={"cloudops.ecs.service": "worker"}))

    # A runtime that restarts has only Docker's labels to go by
    again = docker_client(cluster.sandbox.state)
    found = list_tasks(again, {RUN: cluster.run, "cloudops.ecs.service": "web"})

    assert [t.task_id for t in found] == [t.task_id for t in web]
    assert all(t.last_status == "RUNNING" and t.labels["cloudops.ecs.service"] == "web" for t in found)
    assert len(list_tasks(again, {RUN: cluster.run})) == 3
    again.close()


def test_each_cluster_network_is_made_once_internal_with_a_subnet_of_its_own(sandbox: Sandbox) -> None:
    engine = docker_client(sandbox.state)
    names = [network_name("333333333333", f"net-{uuid.uuid4().hex[:8]}") for _ in range(2)]
    try:
        ids = [ensure_network(engine, name, {"cloudops.ecs.cluster": name}) for name in names]
        assert ensure_network(engine, names[0], {}) == ids[0]
        networks = [engine.networks.get(i).attrs for i in ids]
        subnets = [ipaddress.IPv4Network(n["IPAM"]["Config"][0]["Subnet"]) for n in networks]
        assert all(subnet.subnet_of(SUBNETS) for subnet in subnets) and subnets[0] != subnets[1]
        assert all(n["Internal"] and n["Labels"]["cloudops.sandbox"] == "ecs" for n in networks)
    finally:
        for name in names:
            remove_network(engine, name)
        engine.close()


def test_a_spec_is_checked_when_it_is_made() -> None:
    image = "127.0.0.1:5002/app@sha256:" + "a" * 64
    login = {"url": "http://127.0.0.1:5002", "username": "AWS", "password": SecretStr("x")}

    def spec(*containers: dict[str, object]) -> TaskSpec:
        return TaskSpec.model_validate({"task_id": "t1", "network": "n", "containers": containers, "registry": login})

    with pytest.raises(ValidationError, match="is not registry/repository@sha256"):
        spec({"name": "a", "image": "127.0.0.1:5002/app:latest"})
    with pytest.raises(ValidationError, match="dependsOn has a cycle"):
        spec(
            {"name": "a", "image": image, "depends_on": [("b", "START")]},
            {"name": "b", "image": image, "depends_on": [("a", "START")]},
        )
    with pytest.raises(ValidationError, match="depends on unknown containers"):
        spec({"name": "a", "image": image, "depends_on": [("c", "START")]})
    with pytest.raises(ValidationError, match="no container is essential"):
        spec({"name": "a", "image": image, "essential": False})
    ordered = spec({"name": "a", "image": image, "depends_on": [("b", "HEALTHY")]}, {"name": "b", "image": image})
    assert [c.name for c in ordered.start_order()] == ["b", "a"]


@pytest.mark.parametrize(
    ("status", "code", "health", "condition", "expected"),
    [
        ("running", 0, None, "START", True),
        ("running", 0, None, "COMPLETE", False),
        ("exited", 1, None, "COMPLETE", True),
        ("exited", 1, None, "SUCCESS", "it exited with 1"),
        ("exited", 0, None, "SUCCESS", True),
        ("running", 0, "starting", "HEALTHY", False),
        ("running", 0, "healthy", "HEALTHY", True),
        ("running", 0, "unhealthy", "HEALTHY", "it became unhealthy"),
        ("running", 0, None, "HEALTHY", "it has no health check"),
    ],
)
def test_dependency_conditions(status: str, code: int, health: str | None, condition: str, expected: object) -> None:
    state: dict[str, object] = {"Status": status, "ExitCode": code}
    if health:
        state["Health"] = {"Status": health}
    assert docker_tasks.condition_met({"State": state}, condition) == expected  # type: ignore[arg-type]


def test_docker_times() -> None:
    assert docker_time("0001-01-01T00:00:00Z") is None
    parsed = docker_time("2026-12-01T09:20:56.123456789Z")
    assert parsed == datetime(2026, 12, 1, 9, 20, 56, 123456, tzinfo=UTC)


def test_a_host_network_task_listens_on_this_machine_and_writes_to_its_host_volume(
    cluster: Cluster, tmp_path: Path
) -> None:
    # Given a task in the engine's own network (networkMode host), with a folder of this machine mounted
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    shared = tmp_path / "shared"
    shared.mkdir()
    script = f"echo written > /shared/note; exec python3 -c '{HOST_SERVER}' {port}"
    spec = cluster.task(cluster.shell("app", script, mounts=[(str(shared), "/shared", False)]))
    spec = spec.model_copy(update={"host_network": True})
    try:
        state = start_task(cluster.engine, spec)
        assert state.last_status == "RUNNING", state.model_dump_json(indent=1)
        # Then this machine reaches it on its loopback port, with no network of its own, and sees what it wrote
        assert eventually("the host-network task's answer", lambda: _answer("127.0.0.1", port)) == "on the host"
        holder = cluster.engine.api.inspect_container(holder_name(spec.task_id))
        assert holder["HostConfig"]["NetworkMode"] == "host" and state.ip is None
        assert (shared / "note").read_text() == "written\n"
    finally:
        stop_task(cluster.engine, spec.task_id, "test over", timeout=1)


HOST_SERVER = (
    "import http.server, sys\n"
    "class A(http.server.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    '        self.send_response(200); self.end_headers(); self.wfile.write(b"on the host")\n'
    'http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), A).serve_forever()\n'
)
