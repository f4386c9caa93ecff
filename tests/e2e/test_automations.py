"""The deployments of prefect.yaml on a server: an approval event makes the server start promote, and a
crashed deployed run is scheduled again once.

The test harness's server runs the triggers and actions services (Prefect runs them in ephemeral
servers), so the automations fire here as on `prefect server start`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName, LogFilter, LogFilterFlowRunId
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.exceptions import PrefectHTTPStatusError
from prefect.flow_runs import resume_flow_run
from prefect.settings import PREFECT_API_URL
from prefect.states import Cancelled, Crashed, Running

from cli.approvals import paused_approval_runs
from cloudops import audit
from cloudops.release import Release
from deployments.automations import CRASH_SILENT, RERUN_CRASHED, RERUN_STATE_NAME, SILENCE_MESSAGE
from deployments.work_pool import WORK_POOL
from flows.await_approval import announce_approval
from sandbox.processes import flow_process_groups, kill_groups, stop, tail
from sandbox.sandbox import Sandbox
from tests.app_source import CONFIG_FILE, ReleaseSource
from tests.ops_helpers import verified
from tests.polling import eventually
from tests.stage_holder import Holder

REPO = Path(__file__).resolve().parents[2]
# As the sandbox allows its workers (sandbox.processes.stop): a healthy worker stops its runs and exits in a second.
STOP_SECONDS = 20


def form_fields(client: SyncPrefectClient, deployment_id: UUID) -> dict[str, Any]:
    schema = client.read_deployment(deployment_id).parameter_openapi_schema or {}
    fields: dict[str, Any] = schema["properties"]
    return fields


@pytest.mark.reliability(
    "input",
    "a stage name typed into a run form or sent to the API (`to_stage: qa-typo`)",
    "the forms offer cloudops.toml's stages as a dropdown; the server refuses any other, and no run is created",
)
@pytest.mark.reliability(
    "input", "a run form's fields", "each has a line of help; none is sandbox-only (`rds_databases` is configuration)"
)
def test_the_forms_offer_the_configured_stages_and_the_server_refuses_others(deployed: dict[str, UUID]) -> None:
    with get_client(sync_client=True) as client:
        for name, deployment_id in deployed.items():
            fields = form_fields(client, deployment_id)
            assert "rds_databases" not in fields, name
            assert [f for f, field in fields.items() if not field.get("description")] == [], name
        promote = form_fields(client, deployed["promote"])
        assert promote["to_stage"]["enum"] == ["qa", "staging", "prod"]
        share_with = form_fields(client, deployed["build-release"])
        assert ["qa", "staging", "prod"] in [v.get("items", {}).get("enum") for v in share_with["share_with"]["anyOf"]]

        before = client.count_flow_runs()
        with pytest.raises(PrefectHTTPStatusError) as refused:
            client.create_flow_run_from_deployment(
                deployed["promote"], parameters={"version": "latest", "to_stage": "qa-typo"}
            )
        assert refused.value.response.status_code == 409, refused.value.response.text
        assert "qa-typo" in refused.value.response.text
        assert client.count_flow_runs() == before
        good = client.create_flow_run_from_deployment(
            deployed["promote"], parameters={"version": "latest", "to_stage": "qa"}, state=Cancelled()
        )
        assert good.parameters["to_stage"] == "qa"


def a_queue(client: SyncPrefectClient) -> str:
    """A work queue of the pool for this test alone: its workers take only the runs it puts there, never a run that
    another test left Scheduled on the pool's default queue (an approval trigger's promote, a rerun)."""
    name = f"tests-{uuid.uuid4().hex[:8]}"
    client.create_work_queue(name=name, work_pool_name=WORK_POOL)
    return name


@contextlib.contextmanager
def a_worker(queue: str, name: str, log: Path, limit: int | None = None) -> Iterator[None]:
    """A real `prefect worker` of the process pool on work queue ``queue``, polling every second, stopped (with its
    runs) at the end; at most ``limit`` runs at once when given, its output in ``log``.

    It must stop within STOP_SECONDS of SIGTERM, as `cloudops sandbox down` expects of the sandbox's workers; if it
    does not, its threads' stacks are written to its log (faulthandler, on SIGABRT) and the test fails with them,
    and the worker and its runs' processes are killed so that no worker is left to take a later test's runs."""
    env = {
        **os.environ,
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        "CLOUDOPS_PROJECT_DIR": str(REPO),
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PYTHONFAULTHANDLER": "1",
    }
    command = [str(Path(sys.executable).parent / "prefect"), "worker", "start", "--pool", WORK_POOL]
    command += ["--work-queue", queue, "--name", name, *(["--limit", str(limit)] if limit else [])]
    with open(log, "ab") as out:
        worker = subprocess.Popen(command, env=env, cwd=REPO, start_new_session=True, stdout=out, stderr=out)
    try:
        yield
    finally:
        flows = flow_process_groups(worker.pid)
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            os.kill(worker.pid, signal.SIGABRT)  # faulthandler: every thread's stack, into the log
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.wait(timeout=10)
            stop(worker.pid)
            kill_groups(flows)
            raise AssertionError(
                f"worker {name} did not stop within {STOP_SECONDS} s of SIGTERM; its log {log} ends:\n{tail(log, 60)}"
            ) from None
        kill_groups(flows)


def runs_of(client: SyncPrefectClient, deployment: str) -> list[FlowRun]:
    return client.read_flow_runs(deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[deployment])))


def test_an_approval_event_makes_the_server_start_promote_into_the_next_stage(deployed: dict[str, UUID]) -> None:
    version = "0.0.0-trigger-test"
    # The release flow promotes by itself after an approval: its approvals must not start a promote run too.
    by_release = "0.0.0-promoted-by-the-release-flow"
    digests = {"app": "sha256:" + "1" * 64}
    announce_approval("commerce", by_release, "qa", ["staging"], digests, "qa.lead", trigger_promotion=False)
    announce_approval("commerce", version, "qa", ["staging"], digests, "qa.lead@example.com")

    def promote_run() -> FlowRun | None:
        with get_client(sync_client=True) as client:
            return next((r for r in runs_of(client, "promote") if r.parameters.get("version") == version), None)

    run = eventually("a promote run created by the approval trigger", promote_run)
    assert run.parameters == {"version": version, "to_stage": "staging"}
    assert run.deployment_id == deployed["promote"]
    # The triggers service handles events in order: the earlier event was seen, and matched nothing.
    with get_client(sync_client=True) as client:
        assert [r for r in runs_of(client, "promote") if r.parameters.get("version") == by_release] == []


def test_a_run_crashed_for_its_silence_is_scheduled_again_once(deployed: dict[str, UUID]) -> None:
    with get_client(sync_client=True) as client:
        # a run whose process died is rerun once its worker says so (the kill test under a real worker below)
        (automation,) = client.read_automations_by_name(RERUN_CRASHED)
        assert automation.trigger.expect == {"prefect.worker.executed-flow-run"}  # type: ignore[union-attr]
        # a run whose machine died reports nothing: its silence marks it Crashed, unless it waits suspended
        (silent,) = client.read_automations_by_name(CRASH_SILENT)
        assert silent.trigger.posture == "Proactive"  # type: ignore[union-attr]
        assert {"prefect.flow-run.Suspended", "prefect.flow-run.Paused"} <= silent.trigger.expect  # type: ignore[union-attr]
        assert [a.type for a in silent.actions] == ["change-flow-run-state"]

        def crash(run_id: UUID) -> None:
            """As crash-silent-runs marks a running run whose heartbeats stopped (waiting 2 minutes here is long)."""
            client.set_flow_run_state(run_id, Running(), force=True)
            client.set_flow_run_state(run_id, Crashed(message=SILENCE_MESSAGE), force=True)

        def state_name(run_id: UUID) -> str | None:
            state = client.read_flow_run(run_id).state
            return state.name if state else None

        def reruns(run_id: UUID) -> int:
            return [s.name for s in client.read_flow_run_states(run_id)].count(RERUN_STATE_NAME)

        def rerun(run_id: UUID, times: int) -> Callable[[], bool | None]:
            """Scheduled again ``times`` times: read from its states' history, since a worker could take it at once."""
            return lambda: True if reruns(run_id) >= times else None

        # given a run of a deployment (a worker could pick it up again) whose machine went silent
        first = client.create_flow_run_from_deployment(deployed["check-accounts"], work_queue_name=a_queue(client))
        crash(first.id)
        eventually("the crashed run scheduled again", rerun(first.id, 1))
        assert client.read_flow_run(first.id).parameters == first.parameters

        # when the rerun crashes too, it is not rerun again: the automation fired for this run already.
        crash(first.id)
        # The triggers service handles events in order, so once a later crash of another run has been
        # acted on, the first run's second crash has been seen and ignored.
        sentinel = client.create_flow_run_from_deployment(deployed["check-accounts"], work_queue_name=a_queue(client))
        crash(sentinel.id)
        eventually("a later crashed run scheduled again", rerun(sentinel.id, 1))
        assert (state_name(first.id), reruns(first.id)) == ("Crashed", 1)


@pytest.mark.slow
def test_a_deployed_approval_run_is_suspended_and_a_worker_finishes_it(
    deployed: dict[str, UUID], sandbox: Sandbox, release_env: ReleaseSource, release: Release, tmp_path: Path
) -> None:
    verified(sandbox, release, "prod")  # only a release its stage verified is asked about
    with get_client(sync_client=True) as client, a_worker(queue := a_queue(client), "tests", tmp_path / "worker.log"):
        # prod is the last stage: its approval starts no promotion through the trigger
        run = client.create_flow_run_from_deployment(
            deployed["await-approval"], parameters={"version": release.version, "stage": "prod"}, work_queue_name=queue
        )

        def state_of(run_id: UUID, name: str) -> Callable[[], bool | None]:
            def probe() -> bool | None:
                state = client.read_flow_run(run_id).state
                assert state is None or state.type not in (StateType.FAILED, StateType.CRASHED), state
                return True if state is not None and state.name == name else None

            return probe

        # the run waits suspended: its process has exited, the worker holds nothing for it
        eventually("the deployed approval run suspended", state_of(run.id, "Suspended"), bound=240)
        # (its form is saved just after it is suspended; an answer before that is refused)
        eventually("its form", lambda: True if run.id in {r.id for r in paused_approval_runs()} else None)
        resume_flow_run(run.id, run_input={"decision": "approve", "approver": "erin", "ticket": "CHG-5"})
        eventually("the resumed run finished by the worker", state_of(run.id, "Completed"), bound=240)
    trail = audit.entries(sandbox.account("build"), "cloudops-build-111111111111", "commerce", release.version)
    mine = [e for e in trail if e.flow_run_id == str(run.id) and isinstance(e, audit.ApprovalEntry)]
    assert [(e.decision, e.actor, e.ticket, e.stage) for e in mine] == [("approved", "erin", "CHG-5", "prod")]


@pytest.mark.slow
@pytest.mark.reliability(
    "fault",
    "a deployed build-release's flow process killed (SIGKILL) under the real worker",
    "the rerun automation schedules it again once the worker has reported the crash; the worker finishes it",
)
def test_a_deployed_run_killed_under_the_worker_is_rerun_once_and_finishes(
    deployed: dict[str, UUID], sandbox: Sandbox, release_env: ReleaseSource, release: Release, tmp_path: Path
) -> None:
    with get_client(sync_client=True) as client, a_worker(queue := a_queue(client), "tests", tmp_path / "worker.log"):
        run = client.create_flow_run_from_deployment(
            deployed["build-release"], parameters={"ref": "main"}, work_queue_name=queue
        )

        def flow_process() -> int | None:
            found = client.read_flow_run(run.id)
            running = found.state is not None and found.state.is_running()
            return int(found.infrastructure_pid) if running and found.infrastructure_pid else None

        pid = eventually("the worker's flow process running build-release", flow_process, bound=240)
        os.kill(pid, signal.SIGKILL)

        def finished() -> FlowRun | None:
            found = client.read_flow_run(run.id)
            return found if found.state is not None and found.state.is_final() and found.run_count > 1 else None

        done = eventually("the killed run rerun and finished by the worker", finished, bound=300)
        history = [s.name for s in client.read_flow_run_states(run.id)]
    assert done.state is not None and done.state.is_completed(), (done.state, history)
    assert history.count(RERUN_STATE_NAME) == 1, history  # rerun once
    assert history.index("Crashed") < history.index(RERUN_STATE_NAME) < len(history) - 1
    assert history[-1] == "Completed"


@pytest.mark.reliability(
    "input",
    "two runs into one stage, each taken by another worker of the pool, while a third run holds the stage",
    "both wait for the stage's slot; then one changes it, and the other only once the first has ended",
)
def test_two_workers_change_one_stage_one_run_after_the_other(
    deployed: dict[str, UUID], sandbox: Sandbox, stage_blocks: dict[str, str], tmp_path: Path
) -> None:
    stage = "staging"
    logs = [tmp_path / "worker-1.log", tmp_path / "worker-2.log"]
    with (
        contextlib.ExitStack() as workers,
        pytest.MonkeyPatch.context() as patch,
        get_client(sync_client=True) as client,
    ):
        patch.setenv("CLOUDOPS_CONFIG_FILE", str(CONFIG_FILE))
        queue = a_queue(client)
        with Holder(stage):
            runs = [
                client.create_flow_run_from_deployment(
                    deployed["teardown-environment"],
                    parameters={"stage": stage, "kind": "single-instance", "confirm": f"{stage}/single-instance"},
                    work_queue_name=queue,
                )
                for _ in range(2)
            ]
            for number, log in enumerate(logs, start=1):  # one run at a time each: each worker takes one
                workers.enter_context(a_worker(queue, f"tests-{number}", log, limit=1))
            with explained(client, runs, logs):
                for run in runs:
                    log_of(client, run.id, f"stage {stage} is busy", bound=180)  # both wait behind the holder
        with explained(client, runs, logs):
            held = {run.id: log_of(client, run.id, f"holding stage {stage}", bound=180) for run in runs}
            # the last thing each does in the stage, inside its slot: the teardown's report
            changed = {run.id: log_of(client, run.id, "deleted ", bound=180) for run in runs}

            def ended() -> list[FlowRun] | None:
                found = [client.read_flow_run(run.id) for run in runs]
                return found if all(r.state is not None and r.state.is_final() for r in found) else None

            done = eventually("both teardown runs ended", ended, bound=180)
    assert all(r.state is not None and r.state.is_completed() for r in done), [r.state for r in done]
    first, second = sorted(done, key=lambda r: held[r.id])
    assert held[second.id] >= changed[first.id]  # the second in the stage only once the first was done there
    # each worker started one of them: both may try to submit a run as they poll together, and one's proposal of
    # Pending is then refused; only the worker that won it logs the run "submitted to infrastructure"
    taken_by = [
        {r.name for r in done if f"Flow run '{r.name}' submitted to infrastructure" in log.read_text()} for log in logs
    ]
    assert all(len(ids) == 1 for ids in taken_by) and taken_by[0] != taken_by[1], taken_by  # one run per worker


@contextlib.contextmanager
def explained(client: SyncPrefectClient, runs: list[FlowRun], logs: list[Path]) -> Iterator[None]:
    """A wait that fails says where the runs were: their states and the end of each worker's output."""
    try:
        yield
    except AssertionError as error:
        states = ", ".join(f"{run.id}: {client.read_flow_run(run.id).state_name}" for run in runs)
        tails = "; ".join(f"{log.name}: " + " | ".join(log.read_text().splitlines()[-8:]) for log in logs)
        raise AssertionError(f"{error} (runs {states}; {tails})") from None


def log_of(client: SyncPrefectClient, run_id: UUID, text: str, bound: float) -> datetime:
    """When run ``run_id`` logged ``text`` (polled: logs arrive in batches)."""

    def logged() -> datetime | None:
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])))
        return next((log.timestamp for log in logs if text in log.message), None)

    return eventually(f"run {run_id} logging {text!r}", logged, bound=bound)
