"""A deployed stage runs: the sandbox's ECS runtime runs each service moto holds on the Docker engine, from the
stage's own registry, behind its load balancer's loopback address, and moto reports what really runs."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from typing import Any

import docker
import pytest

from cloudops.aws.session import AccountSession
from cloudops.release import Release
from sandbox.sandbox import Sandbox
from tests.app_source import ReleaseSource
from tests.ops_helpers import OpsApp, make_ops_app
from tests.polling import eventually

pytestmark = pytest.mark.slow
SERVICE_LABEL = "cloudops.ecs.service"


@pytest.fixture
def app(
    sandbox: Sandbox,
    release_env: ReleaseSource,
    release: Release,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> OpsApp:
    return make_ops_app(sandbox, release_env, release, monkeypatch, tmp_path)


def get_json(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except OSError as error:
        return 0, {"error": str(error)}


def app_service(account: AccountSession, cluster: str) -> dict[str, Any]:
    found: dict[str, Any] = account.client("ecs").describe_services(cluster=cluster, services=["app"])["services"][0]
    return found


def containers_of(sandbox: Sandbox, service_arn: str) -> list[Any]:
    client = docker.DockerClient(base_url=sandbox.state.docker_host)
    return list(client.containers.list(all=True, filters={"label": f"{SERVICE_LABEL}={service_arn}"}))


def test_a_release_deployed_in_qa_answers_on_its_endpoint_with_its_version(sandbox: Sandbox, app: OpsApp) -> None:
    from flows.deploy_environment import deploy_environment
    from flows.teardown_environment import teardown_environment

    release = app.releases[0]
    app.copy_images(release, "qa", ["app", "broker"])
    outcomes = deploy_environment(stage="qa", version=release.version, kind="author-live")
    author = next(o for o in outcomes if o.environment == "author")
    endpoint = author.outputs["AppEndpoint"]
    assert re.fullmatch(r"http://127\.(?!0\.)\d+\.\d+\.\d+", endpoint)  # the load balancer's own loopback address

    # Then the app answers there, with the release's version and commit, once its tasks pass their checks
    def answered() -> dict[str, Any] | None:
        status, body = get_json(f"{endpoint}/health")
        return body if status == 200 else None

    health = eventually(f"{endpoint}/health answering 200", answered, bound=180)
    assert (health["version"], health["commit"]) == (app.built.version, release.commit)  # the image's build info
    qa = sandbox.account("qa")
    cluster = author.outputs["ClusterName"]

    def completed() -> dict[str, Any] | None:
        found = app_service(qa, cluster)
        return found if found["deployments"][0]["rolloutState"] == "COMPLETED" else None

    service = eventually("the app service's deployment COMPLETED", completed, bound=120)
    assert (service["runningCount"], service["desiredCount"], service["pendingCount"]) == (2, 2, 0)
    tasks = qa.client("ecs").list_tasks(cluster=cluster)["taskArns"]
    described = qa.client("ecs").describe_tasks(cluster=cluster, tasks=tasks)["tasks"]
    running = [t for t in described if t["lastStatus"] == "RUNNING" and t["group"] == "service:app"]
    assert len(running) == 2
    assert all(c["imageDigest"] == release.images["app"].digest for t in running for c in t["containers"])

    # When one task's app process dies (its essential container exits), the task is replaced and counted as failed
    (victim,) = [
        c
        for c in containers_of(sandbox, service["serviceArn"])
        if c.labels.get("cloudops.ecs-runtime.role") == "container"
    ][:1]
    victim.kill()

    def replaced() -> dict[str, Any] | None:
        found = app_service(qa, cluster)
        primary = found["deployments"][0]
        return found if primary["failedTasks"] >= 1 and found["runningCount"] == 2 else None

    again = eventually("the killed task replaced and counted as failed", replaced, bound=120)
    assert again["deployments"][0]["failedTasks"] == 1
    assert eventually(f"{endpoint}/health answering again", answered, bound=60)["version"] == app.built.version

    # When the environment is torn down, its tasks stop and nothing of them is left on the engine
    teardown_environment(stage="qa", kind="author-live", confirm="qa/author-live")
    eventually("no container of the app service", lambda: not containers_of(sandbox, service["serviceArn"]) or None, 60)
