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
from collections.abc import Callable, Iterator
from pathlib import Path
from uuid import UUID

import pytest
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.exceptions import ObjectAlreadyExists
from prefect.flow_runs import resume_flow_run
from prefect.settings import PREFECT_API_URL
from prefect.states import Crashed, Running

from cli.approvals import paused_approval_runs
from cloudops import audit
from cloudops.release import Release
from deployments.automations import CRASH_SILENT, RERUN_CRASHED, RERUN_STATE_NAME, create_automations
from flows.await_approval import announce_approval
from sandbox.sandbox import Sandbox
from tests.app_source import ReleaseSource
from tests.ops_helpers import verified
from tests.polling import eventually

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def deployed(prefect_harness: None) -> Iterator[dict[str, UUID]]:
    """Every deployment of prefect.yaml created as the README says (`prefect deploy --all`), and the automations."""
    with get_client(sync_client=True) as client, contextlib.suppress(ObjectAlreadyExists):
        client.create_work_pool(WorkPoolCreate(name="cloudops-local", type="process"))
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value()), "CLOUDOPS_PROJECT_DIR": str(REPO)}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "prefect"), "--no-prompt", "deploy", "--all"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    automations = create_automations()
    with get_client(sync_client=True) as client:
        deployments = {d.name: d.id for d in client.read_deployments()}
    try:
        yield deployments
    finally:
        with get_client(sync_client=True) as client:
            for automation_id in automations.values():
                client.delete_automation(automation_id)
            for deployment_id in deployments.values():
                client.delete_deployment(deployment_id)


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


def test_a_crashed_deployed_run_is_scheduled_again_once(deployed: dict[str, UUID]) -> None:
    with get_client(sync_client=True) as client:
        (automation,) = client.read_automations_by_name(RERUN_CRASHED)
        assert automation.trigger.expect == {"prefect.flow-run.Crashed"}  # type: ignore[union-attr]
        assert [a.type for a in automation.actions] == ["change-flow-run-state"]
        # a run whose machine died reports nothing: its silence marks it Crashed, unless it waits suspended
        (silent,) = client.read_automations_by_name(CRASH_SILENT)
        assert silent.trigger.posture == "Proactive"  # type: ignore[union-attr]
        assert {"prefect.flow-run.Suspended", "prefect.flow-run.Paused"} <= silent.trigger.expect  # type: ignore[union-attr]

        def crash(run_id: UUID) -> None:
            client.set_flow_run_state(run_id, Running(), force=True)
            client.set_flow_run_state(run_id, Crashed(message="the worker's machine died"), force=True)

        def state_name(run_id: UUID) -> str | None:
            state = client.read_flow_run(run_id).state
            return state.name if state else None

        def rerun(run_id: UUID) -> Callable[[], bool | None]:
            return lambda: True if state_name(run_id) == RERUN_STATE_NAME else None

        # given a run of a deployment (a worker could pick it up again) that crashes
        first = client.create_flow_run_from_deployment(deployed["check-accounts"])
        crash(first.id)
        eventually("the crashed run scheduled again", rerun(first.id))
        assert client.read_flow_run(first.id).parameters == first.parameters

        # when the rerun crashes too, it is not rerun again: the automation fired for this run already.
        crash(first.id)
        # The triggers service handles events in order, so once a later crash of another run has been
        # acted on, the first run's second crash has been seen and ignored.
        sentinel = client.create_flow_run_from_deployment(deployed["check-accounts"])
        crash(sentinel.id)
        eventually("a later crashed run scheduled again", rerun(sentinel.id))
        assert state_name(first.id) == "Crashed"


@pytest.mark.slow
def test_a_deployed_approval_run_is_suspended_and_a_worker_finishes_it(
    deployed: dict[str, UUID], sandbox: Sandbox, release_env: ReleaseSource, release: Release
) -> None:
    env = {
        **os.environ,
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        "CLOUDOPS_PROJECT_DIR": str(REPO),
        "PREFECT_WORKER_QUERY_SECONDS": "1",
    }
    worker = subprocess.Popen(
        [str(Path(sys.executable).parent / "prefect"), "worker", "start", "--pool", "cloudops-local"],
        env=env,
        cwd=REPO,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    verified(sandbox, release, "prod")  # only a release its stage verified is asked about
    try:
        with get_client(sync_client=True) as client:
            # prod is the last stage: its approval starts no promotion through the trigger
            run = client.create_flow_run_from_deployment(
                deployed["await-approval"], parameters={"version": release.version, "stage": "prod"}
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
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=60)
    trail = audit.entries(sandbox.account("build"), "cloudops-build-111111111111", "commerce", release.version)
    mine = [e for e in trail if e.flow_run_id == str(run.id)]
    assert [(e.decision, e.actor, e.ticket, e.stage) for e in mine] == [("approved", "erin", "CHG-5", "prod")]
