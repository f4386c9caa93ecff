"""A deployed stage's tasks log to CloudWatch Logs: the QA app's start line is in its author group, in the stream
ECS names (prefix/container/task id), read through the product's adapter and through `cloudops logs`; a stream
prefix reads only its container's streams (moto_logs_fixes); a task whose log group is gone does not start."""

from __future__ import annotations

import re
import time
from typing import Any

import docker
import pytest
from typer.testing import CliRunner

from cloudops.aws.logs import LogEvent, log_events, log_groups
from sandbox import docker_engine
from sandbox.sandbox import Sandbox
from tests.ops_helpers import OpsApp
from tests.polling import eventually

pytestmark = pytest.mark.slow


def test_a_deployed_app_s_lines_are_in_its_log_group_and_cloudops_logs_shows_them(
    sandbox: Sandbox, app: OpsApp
) -> None:
    from cli.main import app as cli
    from flows.deploy_and_rollback import deploy_environment
    from flows.teardown_environment import teardown_environment

    release = app.releases[0]
    app.copy_images(release, "qa", ["app", "broker"])
    started = int(time.time() * 1000) - 1000
    outcomes = deploy_environment(stage="qa", version=release.version, kind="author-live")
    qa = sandbox.account("qa")
    author = f"/cloudops/{app.name}/qa/author"
    assert {author, f"/cloudops/{app.name}/qa/live"} <= set(log_groups(qa, f"/cloudops/{app.name}/"))

    # Then each app task's start line is in the author group, in the stream of its own task
    listening = re.compile(rf"commerce {re.escape(app.built.version)} listening on ")

    cluster = next(o for o in outcomes if o.environment == "author").outputs["ClusterName"]
    ecs = qa.client("ecs")
    engine = docker.DockerClient(base_url=sandbox.state.docker_host)
    service_arn = ecs.describe_services(cluster=cluster, services=["app"])["services"][0]["serviceArn"]

    def service_streams(service: str) -> set[str]:
        """The streams of the service's app containers, running or ended, that the engine still has (a loaded
        machine may replace a task whose health check timed out: its successor logs a moment later, in a stream of
        its own, so the running set is not waited for)."""
        role = ["cloudops.ecs-runtime.role=container", f"cloudops.ecs.service={service}"]
        found = docker_engine.containers(engine, role)
        return {f"app/app/{c.labels['cloudops.ecs-runtime.task']}" for c in found}

    def started_lines() -> list[LogEvent] | None:
        found = [e for e in log_events(qa, author, start_time=started) if listening.match(e.message)]
        return found if len({e.stream for e in found} & service_streams(service_arn)) >= 2 else None

    lines = eventually("two app tasks' start lines, each in its own task's stream", started_lines, 180)
    assert all(re.fullmatch(r"app/app/[0-9a-f]{32}", e.stream) for e in lines)
    assert all(started <= e.timestamp <= time.time() * 1000 for e in lines)  # Docker's times of the lines
    # a stream prefix reads only that container's streams
    broker = log_events(qa, author, start_time=started, stream_prefix="broker/")
    assert broker and {tuple(e.stream.split("/")[:2]) for e in broker} == {("broker", "broker")}
    assert log_events(qa, author, start_time=started, stream_prefix="nothing/") == []
    assert log_events(qa, author, start_time=int(time.time() * 1000) + 60_000) == []  # nothing after the start time

    # And `cloudops logs` prints them: time, environment/stream, message
    runner = CliRunner()
    shown = runner.invoke(cli, ["logs", "qa", "author/app", "--since", "10m"])
    assert shown.exit_code == 0, shown.output
    printed = [line for line in shown.output.splitlines() if "listening on" in line]
    assert len(printed) >= 2 and all(
        re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}  author/app/app/[0-9a-f]{32}  commerce .+", line)
        for line in printed
    ), shown.output
    assert "broker/broker/" not in shown.output
    wrong = runner.invoke(cli, ["logs", "qa", "nosuch"])
    assert wrong.exit_code == 1
    (message,) = wrong.output.strip().splitlines()  # one line, naming what the stage has (other tests' too)
    assert message.startswith("error: stage 'qa' has no service 'nosuch'; use one of author, live, ")
    assert message.endswith(" (or none, for all of them)") and "author/app" in message and "live/broker" in message

    # When the live group is deleted and a live app task dies, its replacement fails to start, as on ECS
    live_cluster = next(o for o in outcomes if o.environment == "live").outputs["ClusterName"]
    qa.client("logs").delete_log_group(logGroupName=f"/cloudops/{app.name}/qa/live")
    live_service = ecs.describe_services(cluster=live_cluster, services=["app"])["services"][0]["serviceArn"]
    victims = engine.containers.list(
        filters={"label": [f"cloudops.ecs.service={live_service}", "cloudops.ecs-runtime.role=container"]}
    )
    victims[0].kill()

    def refused() -> dict[str, Any] | None:
        arns = ecs.list_tasks(cluster=live_cluster, desiredStatus="STOPPED")["taskArns"]
        stopped = ecs.describe_tasks(cluster=live_cluster, tasks=arns)["tasks"] if arns else []
        return next((t for t in stopped if "ResourceInitializationError" in t.get("stoppedReason", "")), None)

    task = eventually("a live task refused for its missing log group", refused, bound=120)
    assert f"log group /cloudops/{app.name}/qa/live does not exist" in task["stoppedReason"]

    # NOTE: moto's stack deletion fails on a log group deleted outside the stack (CloudFormation skips it): put it back
    qa.client("logs").create_log_group(logGroupName=f"/cloudops/{app.name}/qa/live")
    teardown_environment(stage="qa", kind="author-live", confirm="qa/author-live")
