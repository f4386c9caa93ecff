"""The ECS work pool for real: prefect-aws's ECS worker starts a run of the release-on-ecs deployment as an ECS
task in the build account; the sandbox's ECS runtime runs that task on the Docker engine, from the flow-runner
image the pipeline built; the whole release to QA runs in it (its image builds through the engine's socket),
and QA answers with the release."""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path
from typing import Any
from uuid import UUID

import docker
import pytest
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.objects import FlowRun, State
from prefect.settings import PREFECT_API_URL
from pydantic import SecretStr

from cloudops import flow_run_cluster
from cloudops.aws.logs import log_events
from deployments.automations import RERUN_STATE_NAME
from sandbox import ecs_pool
from sandbox.command_line.sandbox_ecs_pool import set_up_ecs_pool
from sandbox.sandbox import Sandbox
from tests.app_source import ReleaseSource
from tests.http_answers import get_json
from tests.polling import eventually

pytestmark = pytest.mark.slow


@pytest.mark.reliability(
    "fault",
    "the ECS task of a run on the `cloudops-ecs` pool killed (its container, SIGKILL) while the run runs",
    "prefect-aws's observer marks the run Crashed from ECS's task event, naming the container; "
    "cloudops-rerun-ecs-crashed runs it again once, in a new task, and it completes",
)
def test_a_release_on_the_ecs_pool_runs_as_an_ecs_task_of_the_flow_runner_image_and_qa_answers(
    sandbox: Sandbox,
    release_env: ReleaseSource,
    deployed: dict[str, UUID],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flows.teardown_environment import teardown_environment

    # Given an application of its own, and the ECS pool set up as `cloudops sandbox up --ecs-pool` does it
    name = f"ecs-{uuid.uuid4().hex[:6]}"
    config = tmp_path / "cloudops.toml"
    config.write_text(release_env.config.read_text().replace('name = "commerce"', f'name = "{name}"'))
    monkeypatch.setenv("CLOUDOPS_CONFIG_FILE", str(config))
    login = os.environ["PREFECT_API_AUTH_STRING"]
    server = ecs_pool.PrefectServer(str(PREFECT_API_URL.value()), SecretStr(login))
    said: list[str] = []
    image = set_up_ecs_pool(sandbox, config, said.append, server=server)
    assert re.fullmatch(r"127\.0\.0\.1:\d+/flow-runner@sha256:[0-9a-f]{64}", image), said
    try:
        # When a release to QA is started on the pool's deployment, as from the UI
        with get_client(sync_client=True) as client:
            run = client.create_flow_run_from_deployment(
                deployed["release-on-ecs"], parameters={"ref": "main", "to_stage": "qa"}
            )

            done = eventually("the release on the ECS pool ended", lambda: ended_run(client, run.id), bound=900)
        assert done.state is not None and done.state.is_completed(), done.state

        # Then it ran as an ECS task of the build account's flow-run cluster, from the flow-runner image
        ecs = sandbox.account("build").client("ecs")
        cluster, task_arn = str(done.infrastructure_pid).split("::")
        assert cluster == flow_run_cluster.CLUSTER

        def stopped() -> dict[str, Any] | None:  # the process exits a moment after the run reports its end
            (found,) = ecs.describe_tasks(cluster=cluster, tasks=[task_arn], include=["TAGS"])["tasks"]
            return found if found["lastStatus"] == "STOPPED" else None

        task = eventually("the run's ECS task stopped", stopped, bound=60)
        assert task["launchType"] == "EC2"
        (container,) = task["containers"]
        assert (container["name"], container["exitCode"], container["image"]) == ("prefect", 0, image)
        assert {"key": "prefect.io/flow-run-id", "value": str(run.id)} in task["tags"]
        definition = ecs.describe_task_definition(taskDefinition=task["taskDefinitionArn"])["taskDefinition"]
        assert definition["networkMode"] == "host"
        (secret,) = definition["containerDefinitions"][0]["secrets"]
        assert secret["name"] == "PREFECT_API_AUTH_STRING" and ":secretsmanager:" in secret["valueFrom"]
        assert login not in json.dumps(definition, default=str) + json.dumps(task, default=str)  # only as a secret

        # And its output is in the pool's CloudWatch group, in the stream ECS names for its task
        build = sandbox.account("build")
        lines = log_events(build, "prefect", start_time=0, stream_prefix="prefect-logs_cloudops-ecs_")
        ours = [e for e in lines if e.stream.endswith(f"/prefect/{task_arn.rsplit('/', 1)[-1]}")]
        reached = next(m for e in ours if (m := re.search(rf"{name}@(\S+) is in qa", e.message)))
        assert any("verified: 10 checks passed" in e.message for e in ours)

        # And QA runs the release: its author app answers with the release's version
        qa = sandbox.account("qa").client("cloudformation")
        (stack,) = qa.describe_stacks(StackName=f"{name}-qa-author")["Stacks"]
        endpoint = next(o["OutputValue"] for o in stack["Outputs"] if o["OutputKey"] == "AppEndpoint")
        status, body = get_json(f"{endpoint}/health")
        assert status == 200 and body["version"] == reached.group(1), (status, body)

        # When the task of another run is killed while the run runs
        with get_client(sync_client=True) as client:
            again = client.create_flow_run_from_deployment(
                deployed["release-on-ecs"], parameters={"ref": "main", "to_stage": "qa"}
            )

            def running() -> FlowRun | None:
                found = client.read_flow_run(again.id)
                return found if found.state is not None and found.state.is_running() else None

            started = eventually("the second run running", running, bound=300)
            task_id = str(started.infrastructure_pid).rsplit("/", 1)[-1]
            engine = docker.DockerClient(base_url=sandbox.state.docker_host)
            engine.containers.get(f"cloudops-ecs-{task_id}-prefect").kill()

            # Then prefect-aws's observer marks it Crashed from ECS's task event, naming the container (in its
            # history: the rerun automation schedules it again a moment later)
            def crashed() -> State | None:
                return next((st for st in client.read_flow_run_states(again.id) if st.is_crashed()), None)

            state = eventually("the killed run Crashed", crashed, bound=120)
            assert "['prefect']" in str(state.message), state
            # And cloudops-rerun-ecs-crashed runs it again, on the pool: it completes (the release was in QA already)
            rerun = eventually("the killed run rerun to its end", lambda: ended_run(client, again.id), bound=600)
            assert rerun.state is not None and rerun.state.is_completed(), rerun.state
            assert str(rerun.infrastructure_pid).rsplit("/", 1)[-1] != task_id  # in a task of its own
            assert RERUN_STATE_NAME in [st.name for st in client.read_flow_run_states(again.id)]
    finally:
        ecs_pool.stop_worker(sandbox.state)
        sandbox.state.save()
        teardown_environment(stage="qa", kind="author-live", confirm="qa/author-live")


def ended_run(client: SyncPrefectClient, run_id: UUID) -> FlowRun | None:
    """The run once it has ended for good: final, and not a crash the rerun automation is about to undo."""
    found = client.read_flow_run(run_id)
    state = found.state
    return found if state is not None and state.is_final() and not state.is_crashed() else None
