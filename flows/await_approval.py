"""await-approval: the gate after a stage's deploy. The run waits with a typed form in the Prefect UI;
the answer is recorded in the audit trail, and an approval emits `cloudops.release.approved`.

A run of a deployment is suspended while it waits (its process exits, so no worker slot is held for
days; on the answer a worker starts it again and each form already answered returns its answer at
once). A run without a deployment cannot be started again by a worker, so it pauses in its process.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Literal
from uuid import UUID

import httpx
from prefect import flow, get_run_logger, pause_flow_run, suspend_flow_run
from prefect.artifacts import create_markdown_artifact
from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext
from prefect.events import emit_event
from prefect.exceptions import FlowPauseTimeout, PrefectHTTPStatusError
from prefect.input import RunInput
from prefect.runtime import flow_run
from pydantic import Field

from blocks.pipeline import Pipeline, StageTarget
from cloudops import approvals, audit, deploy, environment_kinds, reports
from cloudops.approvals import APPROVED_EVENT, Answer
from cloudops.environment_kinds import KindName
from cloudops.errors import CloudOpsError
from cloudops.gates.verified import require_verified
from cloudops.identity import Identity, IdentityError
from cloudops.promotion import release_digests
from cloudops.release import Release
from cloudops.settings import Stage
from flows.runtime.notify import notify_pending_approval
from tasks.deploy import preview_deploy, read_endpoints, registry_host, stage_network, stage_options
from tasks.identity import verify_identity
from tasks.records import read_release, read_trail, record
from tasks.stages import open_pipeline

SEVEN_DAYS = 7 * 24 * 3600
__all__ = ["APPROVED_EVENT", "SEVEN_DAYS", "Approval", "await_approval"]


class Approval(RunInput):
    """The approval form."""

    decision: Literal["approve", "reject"] = Field(description="Approve the release for the next stage, or reject it.")
    approver: str = Field(min_length=1, description="Your name or e-mail address.")
    ticket: str = Field(default="", description="A ticket reference, e.g. QA-123.")
    comment: str = Field(default="", description="Anything the next stage should know.")
    identity_proof: str = Field(
        default="",
        description=(
            "Filled in by `cloudops approve`: your AWS identity, signed (a presigned sts:GetCallerIdentity request, "
            "good for two minutes). Leave it empty here; a stage that needs verified approvers refuses answers "
            "without it."
        ),
    )


@flow(name="await-approval", log_prints=False)
def await_approval(
    version: str,
    stage: str,
    timeout_seconds: int = SEVEN_DAYS,
    started_by: str = "",
    poll_interval: int = 10,
    trigger_promotion: bool = True,
    deploy_kind: KindName | None = "author-live",
) -> audit.ApprovalEntry:
    """Wait for a person to approve or reject release ``version`` in ``stage``; no answer in time is a rejection.

    Only a release whose deploy there (of ``deploy_kind``; None: of every kind) passed its verification, for
    exactly its digests, is asked about: the form shows each check, its result and the stage's endpoints.

    When the stage forbids self-approval, an answer from ``started_by`` is refused and the form asked again.
    An approval emits `cloudops.release.approved`; with ``trigger_promotion`` (off when the caller promotes
    the release itself, as the release flow does) the promote deployment's trigger then promotes it.
    Above the form: the release's digests and what deploying it as ``deploy_kind`` in the next stage would
    change there (a change set described and deleted; None leaves it out).

    Args:
        version: The release to approve or reject: its version, or latest.
        stage: The stage whose approval this is (the release must have been deployed and verified there).
        timeout_seconds: How long to wait for an answer; none in time is a rejection.
        started_by: Who started the release: where the stage forbids self-approval, their answer is refused.
        poll_interval: How often, in seconds, a run pausing in its process looks for the answer.
        trigger_promotion: Let an approval promote the release into the next stage (through the promote trigger).
        deploy_kind: The kind whose verification the approval needs (empty: every kind deployed there).
    """
    logger = get_run_logger()
    pipeline = open_pipeline(stage)
    app, build = pipeline.application, pipeline.build
    config = pipeline.settings.stage(stage)
    next_stages = pipeline.settings.next_stages(stage)
    release = read_release(build, app.name, version)
    digests = release_digests(release)
    trail = read_trail(build, app.name, release.version)
    verified = require_verified(trail, release, stage, f"cannot be approved in {stage}", deploy_kind)
    endpoints = deploy.links(read_endpoints(pipeline.stage(stage).account, stage, app.name))
    description = approvals.request_markdown(release, stage, next_stages, digests)
    description += "".join("\n\n" + reports.verification_markdown(entry, endpoints) for entry in verified)
    if deploy_kind is not None and next_stages:
        description += approvals.preview_heading(next_stages[0]) + next_stage_preview(
            pipeline, release, next_stages[0], deploy_kind
        )
    # From the run's scheduled start, so a suspended run started again keeps its first deadline.
    deadline = flow_run.get_scheduled_start_time().timestamp() + timeout_seconds
    if flow_run.get_run_count() <= 1:  # not again when a suspended run starts over after its answer
        notify_pending_approval(release.version, stage, next_stages, digests)
    answer, identity = first_valid_answer(config, stage, started_by, description, deadline, poll_interval, build)
    verdict = approvals.verdict(answer, timeout_seconds, identity)
    entry = audit.approval_entry(
        release,
        stage,
        digests,
        verdict.decision,
        verdict.actor,
        ticket=verdict.ticket,
        comment=verdict.comment,
        flow_run_id=flow_run.get_id(),
        identity=verdict.identity,
    )
    key = record(build, entry)
    create_markdown_artifact(
        key=f"approval-{stage}",
        markdown=approvals.verdict_markdown(release, stage, verdict, f"s3://{build.bucket}/{key}"),
        description=f"Approval of {release.id} in {stage}",
    )
    logger.info("%s in %s: %s by %s", release.id, stage, verdict.decision, verdict.actor)
    if verdict.decision == "approved":
        announce_approval(app.name, release.version, stage, next_stages, digests, verdict.actor, trigger_promotion)
    return entry


def first_valid_answer(
    config: Stage,
    stage: str,
    started_by: str,
    description: str,
    deadline: float,
    poll_interval: int,
    build: StageTarget,
) -> tuple[Answer | None, Identity | None]:
    """The first answer the stage accepts, and its signer's identity when it carried a proof (STS verifies it). A
    refused answer (a self-approval where it is forbidden, no verified identity where the stage needs one, an
    approver its patterns do not name) has its reason kept for whoever answered, and the form is asked again with
    it; (None, None) when the deadline passes first."""
    attempt, shown = 0, description
    while True:
        attempt += 1
        key = approvals.form_key(attempt)
        given = wait_for_answer(shown, deadline, poll_interval, key=key)
        if given is None:
            return None, None
        identity: Identity | None = None
        problem: str | None = None
        if given.identity_proof:
            try:
                identity = verify_identity(build, given.identity_proof)
            except IdentityError as error:
                problem = str(error)
        reason = approvals.refusal(config, stage, started_by, given, identity, problem)
        if reason is None:
            return given, identity
        get_run_logger().warning("%s: asking again", reason)
        keep_refusal(key, reason)
        shown = approvals.refused_markdown(reason) + description


def keep_refusal(form: str, reason: str) -> None:
    """Save why the answer to ``form`` was refused, as this run's input (once: a suspended run started again
    meets its old answers, and their refusals, again)."""
    run_id = flow_run.get_id()
    if run_id is None:
        return
    with get_client(sync_client=True) as client:
        try:
            client.create_flow_run_input(UUID(run_id), approvals.refusal_key(form), json.dumps(reason))
        except PrefectHTTPStatusError as error:
            if error.response.status_code != httpx.codes.CONFLICT:
                raise


def wait_for_answer(description: str, deadline: float, poll_interval: int, key: str) -> Answer | None:
    """The form's answer, or None when the deadline passes first. A deployed run is suspended (the server
    fails it if nobody answers in time); any other run pauses in its process."""
    remaining = max(1, int(deadline - datetime.now(UTC).timestamp()))
    form = Approval.with_initial_data(description=description)
    try:
        if own_deployment_id() is not None:
            given = suspend_flow_run(wait_for_input=form, timeout=remaining, key=key)
        else:
            given = pause_flow_run(wait_for_input=form, timeout=remaining, poll_interval=poll_interval, key=key)
    except FlowPauseTimeout:
        return None
    return Answer(
        decision=given.decision,
        approver=given.approver,
        ticket=given.ticket,
        comment=given.comment,
        identity_proof=given.identity_proof,
    )


def next_stage_preview(pipeline: Pipeline, release: Release, stage: str, kind: str) -> str:
    """What deploying ``release`` as ``kind`` in ``stage`` would change there, as markdown; nothing is changed.
    A preview that cannot be made says why instead of stopping the approval."""
    if environment_kinds.kind(kind).chained:
        return "(the lookup service's stacks take their parameters from the prerequisites stack: not previewed)\n"
    try:
        target = open_pipeline(stage, settings=pipeline.settings).stage(stage)  # opened once in a run tree
        network = stage_network(target)
        plans = deploy.plans(kind, stage, target.bucket, release, registry_host(target), network, stage_options(target))
        return preview_deploy(target.account, plans, deploy.stack_tags(release.application, stage, release.version))
    except CloudOpsError as error:
        return f"(no preview: {error})\n"


def own_deployment_id() -> UUID | None:
    """This run's own deployment (not a parent's: a subflow is not restarted by a worker when resumed)."""
    context = FlowRunContext.get()
    return context.flow_run.deployment_id if context and context.flow_run else None


def announce_approval(
    application: str,
    version: str,
    stage: str,
    next_stages: list[str],
    digests: dict[str, str],
    approver: str,
    trigger_promotion: bool = True,
) -> None:
    """Emit `cloudops.release.approved`; the promote deployment's trigger (prefect.yaml) promotes on it."""
    resource, payload = approvals.approved_event(
        application, version, stage, next_stages, digests, approver, trigger_promotion
    )
    emit_event(event=APPROVED_EVENT, resource=resource, payload=payload)
