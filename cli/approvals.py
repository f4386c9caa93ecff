"""`cloudops approve`: answer a paused await-approval run from the command line; and the demo's automatic approver."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Literal
from uuid import UUID

import httpx
from prefect import resume_flow_run
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.exceptions import FlowPauseTimeout, NotPausedError

from cloudops.errors import CloudOpsError


def paused_approval_runs(
    form_saved: bool = True, wanted: Callable[[FlowRun], bool] = lambda run: True
) -> list[FlowRun]:
    """The ``wanted`` await-approval runs waiting for an answer: paused, with their form saved (unless
    ``form_saved`` is False; only the wanted runs' forms are read).

    A pausing run becomes Paused first and saves its form (the input schema) a moment later; an answer in
    between is refused by the server ("Run input schema not found"), so such a run is not waiting yet.
    """
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["await-approval"])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
            ),
        )
        return [run for run in runs if wanted(run) and (not form_saved or _form_saved(client, run))]


def _form_saved(client: SyncPrefectClient, run: FlowRun) -> bool:
    keyset = run.state.state_details.run_input_keyset if run.state else None
    if not keyset or "schema" not in keyset:
        return False
    try:
        client.read_flow_run_input(run.id, keyset["schema"])
    except httpx.HTTPStatusError as error:
        if error.response.status_code == httpx.codes.NOT_FOUND:
            return False
        raise
    return True


def form_answer(
    decision: Literal["approve", "reject"], approver: str, ticket: str = "", comment: str = ""
) -> dict[str, str]:
    """An answer to the approval form, checked by the form's own model (the UI's form and the CLI give the same)."""
    from pydantic import ValidationError

    from flows.await_approval import Approval

    try:
        return Approval(decision=decision, approver=approver, ticket=ticket, comment=comment).model_dump(mode="json")
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise CloudOpsError(f"the approval form refuses this answer ({problems}); give your name as approver") from None


def answer_waiting_run(version: str, stage: str, answer: dict[str, str]) -> str:
    """Resume the paused await-approval run of ``version`` in ``stage`` with ``answer``; its id."""
    waiting = paused_approval_runs(
        wanted=lambda run: run.parameters.get("stage") == stage and run.parameters.get("version") in (version, "latest")
    )
    if not waiting:
        raise CloudOpsError(
            f"no await-approval run is waiting for {version} in {stage}; start one (the await-approval deployment) "
            "or check the version and stage"
        )
    run = waiting[0]
    try:
        resume_flow_run(run.id, run_input=answer)
    except (NotPausedError, FlowPauseTimeout, RuntimeError) as error:
        raise CloudOpsError(
            f"the await-approval run {run.name!r} ({run.id}) for {version} in {stage} took no answer: {error}; "
            "see the run in the Prefect UI (it may have been answered or timed out meanwhile)"
        ) from None
    return str(run.id)


class AutoApprover:
    """For the sandbox demo only: approves each await-approval run that starts pausing after it was created,
    through the same form answer a person gives (so the approval is in the audit trail like any other)."""

    def __init__(self, approver: str, report: Callable[[str], None], poll_seconds: float = 1.0) -> None:
        self.approver = approver
        self.report = report
        self.poll_seconds = poll_seconds
        self._ignored: set[UUID] = {run.id for run in paused_approval_runs(form_saved=False)}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="auto-approver", daemon=True)

    def __enter__(self) -> AutoApprover:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            for run in paused_approval_runs(wanted=lambda run: run.id not in self._ignored):
                self._approve(run)

    def _approve(self, run: FlowRun) -> None:
        """Answer ``run``'s form; a failure is reported and tried again at the next poll (the thread lives on)."""
        what = f"{run.parameters.get('version')} in {run.parameters.get('stage')}"
        comment = "approved automatically by `cloudops release --auto-approve` (sandbox demo)"
        try:
            resume_flow_run(run.id, run_input=form_answer("approve", self.approver, comment=comment))
        except NotPausedError:
            self._ignored.add(run.id)  # answered by someone else meanwhile
            return
        except Exception as error:  # any failure: say it, try again
            self.report(f"could not approve {what} yet ({error}); trying again")
            return
        self._ignored.add(run.id)
        self.report(f"approved {what} automatically as {self.approver!r} (--auto-approve)")
