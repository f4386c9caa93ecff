"""Tasks on a cluster network of their own, for the tests of the ECS runtime's Docker side: an image made of this
machine's own binaries (tests/host_image.py) in QA's registry, and the tasks' specs (the fixtures that make them
are in sandbox/sandbox_tests/fixtures.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import docker

from cloudops.images import push
from sandbox.docker_engine import client as docker_client
from sandbox.ecs_runtime.task_specs import ContainerSpec, HealthCheck, TaskSpec
from sandbox.sandbox import Sandbox
from tests.host_image import context

RUN = "cloudops.test.run"
# An HTTP server that answers with its NAME and stops at SIGTERM (a pid 1 without a handler ignores it, so a stop
# before the handler is set ends in Docker's SIGKILL): it prints "serving" once both are set.
SERVER = """
import http.server, os, signal, sys
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
class Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = os.environ["NAME"].encode()
        self.send_response(200); self.end_headers(); self.wfile.write(body)
server = http.server.ThreadingHTTPServer(("", int(os.environ["PORT"])), Answer)
print("serving", flush=True)
server.serve_forever()
"""
FETCH = "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode(), flush=True)"
UP = HealthCheck(
    command=["CMD-SHELL", "python3 -c \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/')\""],
    interval=1,
    timeout=2,
    retries=3,
)


@dataclass(frozen=True)
class Cluster:
    engine: docker.DockerClient
    sandbox: Sandbox
    image: str
    network: str
    run: str

    def task(
        self, *containers: ContainerSpec, aliases: tuple[str, ...] = (), labels: dict[str, str] | None = None
    ) -> TaskSpec:
        return TaskSpec(
            task_id=uuid.uuid4().hex,
            labels={RUN: self.run, "cloudops.ecs.account": "222222222222", **(labels or {})},
            network=self.network,
            aliases=list(aliases),
            containers=list(containers),
            registry=self.sandbox.state.registries["qa"].login(),
        )

    def server(self, name: str, **fields: object) -> ContainerSpec:
        command = ["python3", "-c", SERVER]
        environment = {"NAME": name, "PORT": "8080"}
        return ContainerSpec(
            name=name, image=self.image, command=command, environment=environment, port_mappings=[8080], **fields
        )

    def shell(self, name: str, script: str, **fields: object) -> ContainerSpec:
        return ContainerSpec(**{"name": name, "image": self.image, "command": ["/bin/sh", "-c", script], **fields})

    def ours(self) -> list[object]:
        return list(self.engine.containers.list(all=True, filters={"label": [f"{RUN}={self.run}"]}))


def probe_image(sandbox: Sandbox) -> str:
    """The host-made image in QA's registry, by digest."""
    engine = docker_client(sandbox.state)
    qa = sandbox.state.registries["qa"]
    tag = f"{qa.address}/ecs-probe-{uuid.uuid4().hex[:8]}:v1"
    engine.images.build(fileobj=context(), custom_context=True, tag=tag, rm=True)
    digest = push(engine, tag, qa.login(), lambda line: None)
    engine.images.remove(tag)  # each task pulls it again, from QA's registry
    return f"{tag.rsplit(':', 1)[0]}@{digest}"
