"""`cloudops approve`: answer a paused await-approval run from the command line; and the demo's automatic approver."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Literal
from uuid import UUID

from prefect import resume_flow_run
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import FlowRun, StateType

from cloudops.errors import CloudOpsError


def paused_approval_runs() -> list[FlowRun]:
    """The await-approval runs waiting for an answer."""
    with get_client(sync_client=True) as client:
        return client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["await-approval"])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
            ),
        )


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
    waiting = [
        run
        for run in paused_approval_runs()
        if run.parameters.get("stage") == stage and run.parameters.get("version") in (version, "latest")
    ]
    if not waiting:
        raise CloudOpsError(
            f"no await-approval run is waiting for {version} in {stage}; start one (the await-approval deployment) "
            "or check the version and stage"
        )
    run = waiting[0]
    resume_flow_run(run.id, run_input=answer)
    return str(run.id)


class AutoApprover:
    """For the sandbox demo only: approves each await-approval run that starts pausing after it was created,
    through the same form answer a person gives (so the approval is in the audit trail like any other)."""

    def __init__(self, approver: str, report: Callable[[str], None], poll_seconds: float = 1.0) -> None:
        self.approver = approver
        self.report = report
        self.poll_seconds = poll_seconds
        self._ignored: set[UUID] = {run.id for run in paused_approval_runs()}
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
            for run in paused_approval_runs():
                if run.id in self._ignored:
                    continue
                self._ignored.add(run.id)
                comment = "approved automatically by `cloudops release --auto-approve` (sandbox demo)"
                resume_flow_run(run.id, run_input=form_answer("approve", self.approver, comment=comment))
                self.report(
                    f"approved {run.parameters.get('version')} in {run.parameters.get('stage')} automatically "
                    f"as {self.approver!r} (--auto-approve)"
                )
