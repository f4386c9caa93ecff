"""`cloudops approve`: answer a paused await-approval run from the command line; and the demo's automatic approver."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
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

from cloudops.approvals import refusal_key
from cloudops.errors import CloudOpsError
from cloudops.settings import Settings

OUTCOME_WAIT_SECONDS = 120.0
OUTCOME_POLL_SECONDS = 0.5


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


def signed_identity(settings: Settings, stage: str, profile: str | None) -> str:
    """A proof of your AWS identity for the answer (a presigned sts:GetCallerIdentity request, cloudops/identity.py);
    empty when you have no AWS credentials and the stage does not need a verified approver."""
    from cloudops.aws import sts

    config = settings.stage(stage)
    session = sts.own_session(profile)
    if session is None:
        if config.verified_approvers or config.approvers:
            raise CloudOpsError(
                f"{stage} accepts only verified approvers, and no AWS credentials were found to sign your identity; "
                "set AWS_PROFILE or pass --profile"
            )
        return ""
    return sts.identity_proof(session, settings.stage(settings.build_stage).region)


def form_answer(
    decision: Literal["approve", "reject"], approver: str, ticket: str = "", comment: str = "", identity_proof: str = ""
) -> dict[str, str]:
    """An answer to the approval form, checked by the form's own model (the UI's form and the CLI give the same)."""
    from pydantic import ValidationError

    from flows.await_approval import Approval

    try:
        answer = Approval(
            decision=decision, approver=approver, ticket=ticket, comment=comment, identity_proof=identity_proof
        )
        return answer.model_dump(mode="json")
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise CloudOpsError(f"the approval form refuses this answer ({problems}); give your name as approver") from None


@dataclass(frozen=True)
class Answered:
    """A waiting run that took an answer: which run, and the form it answered."""

    run_id: UUID
    run_name: str
    form: str


def answer_waiting_run(version: str, stage: str, answer: dict[str, str]) -> Answered:
    """Resume the paused await-approval run of ``version`` in ``stage`` with ``answer``."""
    waiting = paused_approval_runs(
        wanted=lambda run: run.parameters.get("stage") == stage and run.parameters.get("version") in (version, "latest")
    )
    if not waiting:
        raise CloudOpsError(
            f"no await-approval run is waiting for {version} in {stage}; start one (the await-approval deployment) "
            "or check the version and stage"
        )
    run = waiting[0]
    form = (run.state.state_details.pause_key if run.state else None) or ""  # the flow's form key: approval-<n>
    try:
        resume_flow_run(run.id, run_input=answer)
    except (NotPausedError, FlowPauseTimeout, RuntimeError) as error:
        raise CloudOpsError(
            f"the await-approval run {run.name!r} ({run.id}) for {version} in {stage} took no answer: {error}; "
            "see the run in the Prefect UI (it may have been answered or timed out meanwhile)"
        ) from None
    return Answered(run.id, run.name, form)


def what_the_run_did(answered: Answered, wait_seconds: float = OUTCOME_WAIT_SECONDS) -> str:
    """Once the run has dealt with the answer: a line saying it accepted it (recorded in the audit trail).
    A refusal (its reason, as the run kept it) or a run that failed raises :class:`AnswerRefusedError`.
    A run that has not dealt with it within ``wait_seconds`` (a suspended run waits for a worker) says so."""
    deadline = time.monotonic() + wait_seconds
    with get_client(sync_client=True) as client:
        while True:
            reason = _refusal(client, answered)
            if reason is not None:
                raise AnswerRefusedError(
                    f"the await-approval run {answered.run_name!r} refused the answer: {reason}; it asks again "
                    f"(flow run {answered.run_id})"
                )
            run = client.read_flow_run(answered.run_id)
            if run.state is not None and run.state.is_completed():
                return f"accepted by the await-approval run {answered.run_name!r} and recorded in the audit trail"
            if run.state is not None and run.state.is_final():
                raise AnswerRefusedError(
                    f"the await-approval run {answered.run_name!r} ended {run.state.name} with the answer: "
                    f"{run.state.message or 'see its logs'} (flow run {answered.run_id})"
                )
            if time.monotonic() > deadline:
                return (
                    f"given to the await-approval run {answered.run_name!r}, which has not dealt with it within "
                    f"{wait_seconds:.0f} s (a suspended run waits for a worker to start it again): see flow run "
                    f"{answered.run_id} in the Prefect UI"
                )
            time.sleep(OUTCOME_POLL_SECONDS)


def _refusal(client: SyncPrefectClient, answered: Answered) -> str | None:
    if not answered.form:
        return None
    try:
        value = client.read_flow_run_input(answered.run_id, refusal_key(answered.form))
    except httpx.HTTPStatusError as error:
        if error.response.status_code == httpx.codes.NOT_FOUND:
            return None
        raise
    reason = json.loads(value)
    return reason if isinstance(reason, str) else str(reason)


class AnswerRefusedError(CloudOpsError):
    """The await-approval run refused an answer it was given, or ended without taking it."""


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
