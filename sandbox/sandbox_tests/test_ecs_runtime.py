"""A deployed stage runs: the sandbox's ECS runtime runs each service moto holds on the Docker engine, from the
stage's own registry, behind its load balancer's loopback address, and moto reports what really runs."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Any

import docker
import pytest

from cloudops.aws.session import AccountSession
from sandbox import docker_engine
from sandbox.sandbox import Sandbox
from tests.app_variants import app_variant
from tests.http_answers import get_json
from tests.ops_helpers import OpsApp
from tests.polling import eventually

pytestmark = pytest.mark.slow
SERVICE_LABEL = "cloudops.ecs.service"


def app_service(account: AccountSession, cluster: str) -> dict[str, Any]:
    found: dict[str, Any] = account.client("ecs").describe_services(cluster=cluster, services=["app"])["services"][0]
    return found


@dataclass(frozen=True)
class Rolled:
    version: str
    digest: str
    first_new_answer: float  # when the endpoint first gave the new version (epoch seconds)


def roll_second_release(sandbox: Sandbox, app: OpsApp, endpoint: str) -> Rolled:
    """Deploy a release of another app build over the running one, asking the endpoint all along."""
    from flows.deploy_and_rollback import deploy_environment

    first = app.releases[0]
    variant = app_variant(sandbox, app.built, f"{app.built.version}-rolled")
    second = app.another_release("rolled", variant)
    app.copy_images(second, "qa", ["app", "broker"])
    answers: list[tuple[float, int, str]] = []
    done = threading.Event()

    def ask() -> None:
        while not done.is_set():
            status, body = get_json(f"{endpoint}/health")
            answers.append((time.time(), status, str(body.get("version", body.get("error")))))
            time.sleep(0.2)

    asker = threading.Thread(target=ask, daemon=True)
    asker.start()
    try:
        deploy_environment(stage="qa", version=second.version, kind="author-live")
        eventually(
            "only the new version answering",
            lambda: answers[-5:] if len(answers) > 5 and {v for _, _, v in answers[-5:]} == {variant.inputs} else None,
            bound=180,
        )
    finally:
        done.set()
        asker.join()
    assert {(status, version) for _, status, version in answers} <= {(200, app.built.version), (200, variant.inputs)}
    assert answers[0][2] == app.built.version != first.version  # the first release's build, then the new one
    first_new = next(at for at, _, version in answers if version == variant.inputs)
    return Rolled(version=variant.inputs, digest=variant.digest, first_new_answer=first_new)


def engine_pulls(sandbox: Sandbox, stage: str, digest: str) -> int:
    """How many times the Docker engine fetched the manifest ``digest`` from ``stage``'s registry (its access log)."""
    log = sandbox.state.logs / f"registry-{stage}.log"
    text = log.read_text(errors="replace") if log.exists() else ""
    wanted = re.compile(rf'"GET /v2/[^ ]+/manifests/{digest} HTTP/[0-9.]+" 200 .*"docker/')
    return sum(1 for line in text.splitlines() if wanted.search(line))


def fails_without_its_image(sandbox: Sandbox, app: OpsApp, cluster: str, endpoint: str, version: str) -> None:
    qa = sandbox.account("qa").client("ecs")
    service = app_service(sandbox.account("qa"), cluster)
    good = service["taskDefinition"]
    definition = qa.describe_task_definition(taskDefinition=good)["taskDefinition"]
    host = sandbox.state.registries["qa"].address
    # a build of its own, so on the engine and in the build registry, but never promoted into QA's
    never_promoted = app_variant(sandbox, app.built, f"{app.built.version}-never-promoted")
    missing = f"{host}/app@{never_promoted.digest}"
    containers = [{**c, "image": missing} if c["name"] == "app" else c for c in definition["containerDefinitions"]]
    keep = ("family", "taskRoleArn", "executionRoleArn", "networkMode", "requiresCompatibilities", "cpu", "memory")
    bad = qa.register_task_definition(
        **{k: definition[k] for k in keep if definition.get(k)}, containerDefinitions=containers
    )["taskDefinition"]["taskDefinitionArn"]
    qa.update_service(cluster=cluster, service="app", taskDefinition=bad)

    def rolled_back() -> dict[str, Any] | None:
        found = app_service(sandbox.account("qa"), cluster)
        primary = found["deployments"][0]
        settled = primary["taskDefinition"] == good and primary["rolloutState"] == "COMPLETED"
        return found if settled and len(found["deployments"]) == 1 else None

    eventually("the failed deployment rolled back to the release's task definition", rolled_back, bound=120)
    stopped = qa.list_tasks(cluster=cluster, desiredStatus="STOPPED")["taskArns"]
    reasons = [
        t["stoppedReason"]
        for t in qa.describe_tasks(cluster=cluster, tasks=stopped)["tasks"]
        if t["taskDefinitionArn"] == bad
    ]
    assert len(reasons) >= 3 and all("CannotPullContainerError" in r and missing in r for r in reasons), reasons

    def answering() -> dict[str, Any] | None:
        status, body = get_json(f"{endpoint}/health")
        return body if status == 200 else None

    assert eventually(f"{endpoint}/health still answering", answering)["version"] == version


def containers_of(sandbox: Sandbox, service_arn: str) -> list[Any]:
    client = docker.DockerClient(base_url=sandbox.state.docker_host)
    return docker_engine.containers(client, [f"{SERVICE_LABEL}={service_arn}"])


@pytest.mark.reliability(
    "fault",
    "a running task of a stage's service killed (its essential container, SIGKILL)",
    "the service starts a replacement and counts the task as failed; the endpoint answers again",
)
def test_a_release_in_qa_answers_is_replaced_rolled_and_torn_down(sandbox: Sandbox, app: OpsApp) -> None:
    from flows.deploy_and_rollback import deploy_environment
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

    # The broker endpoint the stack publishes is the broker task's: an app task connects to it there
    host, port = author.outputs["BrokerEndpoint"].removeprefix("tcp://").split(":")
    (some_app, *_) = [
        c for c in containers_of(sandbox, app_service(qa, cluster)["serviceArn"]) if c.name.endswith("-app")
    ]
    probe = f"import socket; socket.create_connection(({host!r}, {port}), timeout=5); print('connected')"
    assert some_app.exec_run(["python3", "-c", probe]).output.decode().strip() == "connected"

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

    # Application Auto Scaling keeps the app service between the stage's min_tasks and max_tasks, on CPU and on
    # requests per task. When it scales out (it sets the service's desired count, as this does), the runtime starts
    # the task; and the next deploy keeps the count (the template gives the service none)
    scaling = qa.client("application-autoscaling")
    resource = f"service/{cluster}/app"
    (target,) = scaling.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[resource])["ScalableTargets"]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (2, 4)
    policies = scaling.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=resource)["ScalingPolicies"]
    metrics = [p["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"] for p in policies]
    assert sorted(m["PredefinedMetricType"] for m in metrics) == [
        "ALBRequestCountPerTarget",
        "ECSServiceAverageCPUUtilization",
    ]
    (label,) = [m["ResourceLabel"] for m in metrics if "ResourceLabel" in m]
    assert re.fullmatch(r"app/[^/]+/[^/]+/targetgroup/[^/]+/[^/]+", label)  # the load balancer's and target group's
    qa.client("ecs").update_service(cluster=cluster, service="app", desiredCount=3)

    def three_running() -> list[str] | None:
        found = app_service(qa, cluster)
        tasks: list[str] = qa.client("ecs").list_tasks(cluster=cluster, serviceName="app", desiredStatus="RUNNING")[
            "taskArns"
        ]  # the app service's own (moto listed every task of the cluster: its broker's too)
        return tasks if (found["runningCount"], found["desiredCount"], len(tasks)) == (3, 3, 3) else None

    # A second release rolls: its tasks start and pass their checks before the first release's stop, so the
    # endpoint answers all along, first with the old version, then with the new one
    old_tasks = eventually("the scaled-out service running three tasks", three_running, bound=120)
    rolled = roll_second_release(sandbox, app, endpoint)

    def rolled_out() -> dict[str, Any] | None:
        found = app_service(qa, cluster)
        (only,) = found["deployments"] if len(found["deployments"]) == 1 else (None,)
        return found if only and only["rolloutState"] == "COMPLETED" else None

    after_roll = eventually("the second release's deployment COMPLETED, the first's gone", rolled_out, bound=60)
    assert (after_roll["desiredCount"], after_roll["runningCount"]) == (3, 3)  # the deploy kept the scaled count
    stopped = qa.client("ecs").describe_tasks(cluster=cluster, tasks=old_tasks)["tasks"]
    assert {t["lastStatus"] for t in stopped} == {"STOPPED"}
    assert {t["stoppedReason"] for t in stopped} == {"Scaling activity initiated by (deployment)"}
    # ... each stopped after the new tasks were answering
    assert all(t["stoppedAt"].timestamp() >= rolled.first_new_answer - 1 for t in stopped)

    # No task image came from another stage's registry: the new image (in the build registry too) was pulled
    # by the engine from QA's only, as the registries' own access logs say
    pulls = {stage: engine_pulls(sandbox, stage, rolled.digest) for stage in sandbox.state.registries}
    assert pulls["qa"] >= 1 and {s: n for s, n in pulls.items() if s != "qa" and n} == {}

    # An image missing from QA's registry (it is in the build registry, and on the engine) fails the
    # deployment's tasks with a clear reason; the circuit breaker rolls the service back to the release
    fails_without_its_image(sandbox, app, cluster, endpoint, rolled.version)

    # When the environment is torn down, its tasks stop and nothing of them is left on the engine
    teardown_environment(stage="qa", kind="author-live", confirm="qa/author-live")
    eventually("no container of the app service", lambda: not containers_of(sandbox, service["serviceArn"]) or None, 60)
