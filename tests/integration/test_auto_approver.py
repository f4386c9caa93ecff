"""The demo's automatic approver answers a pausing approval run only once its form is saved, and keeps going."""

from __future__ import annotations

import time
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import State, StateType
from prefect.input.run_input import Keyset, keyset_from_paused_state
from prefect.states import Paused, Pending

from cli.approvals import AutoApprover, paused_approval_runs
from flows.await_approval import Approval, await_approval


def pausing_run() -> tuple[UUID, Keyset]:
    """An await-approval run made Paused the way pause_flow_run does it, before it saves its form."""
    state: State[None] = Paused(timeout_seconds=300, reschedule=False, pause_key="approval")
    keyset = keyset_from_paused_state(state)
    state.state_details.run_input_keyset = {str(key): value for key, value in keyset.items()}
    with get_client(sync_client=True) as client:
        run = client.create_flow_run(await_approval, parameters={"version": "1.2.3", "stage": "qa"}, state=Pending())
        client.set_flow_run_state(run.id, state, force=True)
    return run.id, keyset


def state_of(run_id: UUID) -> StateType | None:
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(run_id).state
    return state.type if state else None


def test_a_run_is_answered_once_its_form_is_saved_not_in_the_moment_before(prefect_harness: None) -> None:
    reports: list[str] = []
    with AutoApprover("auto", report=reports.append, poll_seconds=0.1):
        run_id, keyset = pausing_run()
        # Paused, but no form yet: not waiting for an answer (the server would refuse one)
        assert run_id not in {run.id for run in paused_approval_runs()}
        time.sleep(1)
        assert state_of(run_id) == StateType.PAUSED and reports == []

        Approval.save(keyset, flow_run_id=run_id)  # the form is saved: the approver answers it
        deadline = time.monotonic() + 30
        while state_of(run_id) == StateType.PAUSED:
            assert time.monotonic() < deadline, f"not answered within 30 s; reports: {reports}"
            time.sleep(0.1)
    assert state_of(run_id) == StateType.RUNNING
    assert reports == ["approved 1.2.3 in qa automatically as 'auto' (--auto-approve)"]
    with get_client(sync_client=True) as client:
        answer = Approval.model_validate_json(client.read_flow_run_input(run_id, keyset["response"]))
    assert (answer.decision, answer.approver) == ("approve", "auto")
