"""Fixtures of the sandbox's own tests: a cluster network of its own on the sandbox's engine, and the image its
tasks run (tests/docker_clusters.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from sandbox.docker_engine import client as docker_client
from sandbox.ecs_runtime.docker_tasks import ensure_network
from sandbox.ecs_runtime.networks import network_name, remove_network
from sandbox.sandbox import Sandbox
from tests import docker_clusters
from tests.docker_clusters import RUN, Cluster


@pytest.fixture(scope="session")
def probe_image(sandbox: Sandbox) -> str:
    """The host-made image in QA's registry, by digest."""
    return docker_clusters.probe_image(sandbox)


@pytest.fixture
def cluster(sandbox: Sandbox, probe_image: str) -> Iterator[Cluster]:
    """A fresh cluster network; every container of the test's tasks, and the network, removed afterwards."""
    engine = docker_client(sandbox.state)
    run = uuid.uuid4().hex[:10]
    name = network_name("222222222222", f"test-{run}")
    ensure_network(engine, name, {RUN: run})
    box = Cluster(engine, sandbox, probe_image, name, run)
    try:
        yield box
    finally:
        for container in engine.containers.list(all=True, filters={"label": [f"{RUN}={run}"]}):
            container.remove(force=True)
        remove_network(engine, name)
        engine.close()
