"""moto stopped and started again under a running stage (what `cloudops sandbox down` and `up` do to it): its state
comes back, the runtimes adopt the tasks and databases still running on the engine, and the stage answers again."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox import docker_engine
from sandbox.processes import stop
from sandbox.sandbox import Sandbox
from tests.http_answers import get_json
from tests.ops_helpers import OpsApp
from tests.polling import eventually

pytestmark = pytest.mark.slow


def running_tasks(sandbox: Sandbox, service_arn: str) -> set[str]:
    engine = docker_engine.client(sandbox.state)
    found = docker_engine.containers(engine, [f"cloudops.ecs.service={service_arn}"], status="running")
    return {c.labels["cloudops.ecs-runtime.task"] for c in found}


@pytest.mark.reliability(
    "fault",
    "moto (the AWS APIs) stopped and started again under a running stage",
    "its state comes back; the running tasks are adopted, none duplicated",
)
def test_a_restarted_moto_brings_the_stage_back_and_adopts_its_running_tasks(sandbox: Sandbox, app: OpsApp) -> None:
    from flows.deploy_and_rollback import deploy_environment
    from flows.teardown_environment import teardown_environment

    release = app.releases[0]
    app.copy_images(release, "qa", ["app", "broker"])
    outcomes = deploy_environment(stage="qa", version=release.version, kind="author-live")
    author = next(o for o in outcomes if o.environment == "author")
    endpoint, cluster = author.outputs["AppEndpoint"], author.outputs["ClusterName"]

    def products() -> list[dict[str, Any]] | None:
        status, body = get_json(f"{endpoint}/products")
        return body["products"] if status == 200 else None

    before = eventually(f"{endpoint}/products answering", products, bound=180)
    ecs = sandbox.account("qa").client("ecs")
    service = ecs.describe_services(cluster=cluster, services=["app"])["services"][0]
    eventually("the app's two tasks running", lambda: len(running_tasks(sandbox, service["serviceArn"])) == 2 or None)
    tasks = running_tasks(sandbox, service["serviceArn"])

    def completed() -> dict[str, Any] | None:
        found = ecs.describe_services(cluster=cluster, services=["app"])["services"][0]
        settled = found["runningCount"] == 2 and found["deployments"][0]["rolloutState"] == "COMPLETED"
        return found if settled else None

    eventually("the app's deployment COMPLETED", completed, bound=60)

    # When moto stops as `sandbox down` stops it (SIGTERM) and starts again as `sandbox up` starts it
    stop(sandbox.state.pids["moto"])
    assert get_json(f"{endpoint}/health", timeout=2)[0] == 0  # nobody plays the load balancer meanwhile
    sandbox.up(["moto"], report=lambda _line: None)

    # Then the stage answers again, with the same data, from the same tasks (adopted, not replaced)
    assert eventually(f"{endpoint}/products answering again", products, bound=60) == before
    ecs = sandbox.account("qa").client("ecs")  # a new session: the restarted moto's credentials
    again = ecs.describe_services(cluster=cluster, services=["app"])["services"][0]
    assert (again["serviceArn"], again["taskDefinition"]) == (service["serviceArn"], service["taskDefinition"])
    assert running_tasks(sandbox, service["serviceArn"]) == tasks
    listed = ecs.list_tasks(cluster=cluster, serviceName="app", desiredStatus="RUNNING")["taskArns"]
    assert {arn.rsplit("/", 1)[-1] for arn in listed} == tasks

    # ... its deployment still COMPLETED (a rollout ends once), its counts back, no task counted as failed
    assert again["deployments"][0]["rolloutState"] == "COMPLETED"
    assert eventually("the service's counts", completed, bound=60)["deployments"][0]["failedTasks"] == 0
    teardown_environment(stage="qa", kind="author-live", confirm="qa/author-live")
