"""await-approval: the gate after a stage's deploy. The run waits with a typed form in the Prefect UI;
the answer is recorded in the audit trail, and an approval emits `cloudops.release.approved`.

A run of a deployment is suspended while it waits (its process exits, so no worker slot is held for
days; on the answer a worker starts it again and each form already answered returns its answer at
once). A run without a deployment cannot be started again by a worker, so it pauses in its process.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal
from uuid import UUID

from prefect import flow, get_run_logger, pause_flow_run, suspend_flow_run
from prefect.artifacts import create_markdown_artifact
from prefect.context import FlowRunContext
from prefect.events import emit_event
from prefect.exceptions import FlowPauseTimeout
from prefect.input import RunInput
from prefect.runtime import flow_run
from pydantic import Field

from blocks.stage_accounts import load_stage_account
from cloudops import audit, deploy, environment_kinds
from cloudops.environment_kinds import KindName
from cloudops.errors import CloudOpsError
from cloudops.promotion import release_digests
from cloudops.release import Release, load_release
from cloudops.settings import Settings, load_settings
from flows.package import application_of
from tasks.deploy import preview_deploy
from tasks.notify import notify_pending_approval

SEVEN_DAYS = 7 * 24 * 3600
APPROVED_EVENT = "cloudops.release.approved"


class Approval(RunInput):
    """The approval form."""

    decision: Literal["approve", "reject"] = Field(description="Approve the release for the next stage, or reject it.")
    approver: str = Field(min_length=1, description="Your name or e-mail address.")
    ticket: str = Field(default="", description="A ticket reference, e.g. QA-123.")
    comment: str = Field(default="", description="Anything the next stage should know.")


@flow(name="await-approval", log_prints=False)
def await_approval(
    version: str,
    stage: str,
    timeout_seconds: int = SEVEN_DAYS,
    started_by: str = "",
    poll_interval: int = 10,
    trigger_promotion: bool = True,
    deploy_kind: KindName | None = "author-live",
) -> audit.AuditEntry:
    """Wait for a person to approve or reject release ``version`` in ``stage``; no answer in time is a rejection.

    When the stage forbids self-approval, an answer from ``started_by`` is refused and the form asked again.
    An approval emits `cloudops.release.approved`; with ``trigger_promotion`` (off when the caller promotes
    the release itself, as the release flow does) the promote deployment's trigger then promotes it.
    Above the form: the release's digests and what deploying it as ``deploy_kind`` in the next stage would
    change there (a change set described and deleted; None leaves it out).
    """
    logger = get_run_logger()
    settings = load_settings()
    stage_config = settings.stage(stage)
    app = application_of(settings)
    build = load_stage_account(settings, settings.build_stage)
    bucket = settings.stage(settings.build_stage).bucket
    release = load_release(build.session(), bucket, app.name, version)
    digests = release_digests(release)
    next_stages = ", ".join(settings.next_stages(stage)) or "(none: the last stage)"
    description = "\n".join(
        [
            f"## Approve {release.id} in {stage}?",
            "",
            f"Approving lets it be promoted to: **{next_stages}**.",
            "",
            "| image | digest |",
            "|---|---|",
            *(f"| {n} | `{d}` |" for n, d in digests.items()),
            "",
            f"Commit `{release.commit}`; snapshots: {', '.join(s.identifier for s in release.snapshots.values())}.",
        ]
    )
    if deploy_kind is not None and settings.next_stages(stage):
        following = settings.next_stages(stage)[0]
        description += f"\n\n## What deploying it to {following} will do\n\n" + next_stage_preview(
            settings, release, following, deploy_kind
        )
    # From the run's scheduled start, so a suspended run started again keeps its first deadline.
    deadline = flow_run.get_scheduled_start_time().timestamp() + timeout_seconds
    deployed = own_deployment_id() is not None
    if flow_run.get_run_count() <= 1:  # not again when a suspended run starts over after its answer
        notify_pending_approval(release.version, stage, settings.next_stages(stage), digests)
    attempt = 0
    answer: Approval | None = None
    while answer is None:
        attempt += 1
        remaining = max(1, int(deadline - datetime.now(UTC).timestamp()))
        form = Approval.with_initial_data(description=description)
        key = f"approval-{attempt}"
        try:
            if deployed:
                # The process exits here; the server fails the run if nobody answers in time.
                given = suspend_flow_run(wait_for_input=form, timeout=remaining, key=key)
            else:
                given = pause_flow_run(wait_for_input=form, timeout=remaining, poll_interval=poll_interval, key=key)
        except FlowPauseTimeout:
            break
        if not stage_config.self_approval and started_by and given.approver == started_by:
            logger.warning("%s started this release and %s forbids self-approval: asking again", started_by, stage)
            continue
        answer = given
    if answer is None:
        decision: audit.Decision = "timed-out"
        actor, ticket, comment = "(nobody)", "", f"no answer within {timeout_seconds} s: a rejection"
    else:
        decision = "approved" if answer.decision == "approve" else "rejected"
        actor, ticket, comment = answer.approver, answer.ticket, answer.comment
    entry = audit.AuditEntry(
        kind="approval",
        application=app.name,
        version=release.version,
        stage=stage,
        actor=actor,
        digests=digests,
        decision=decision,
        ticket=ticket,
        comment=comment,
        flow_run_id=flow_run.get_id(),
    )
    key = audit.record(build.session(), bucket, entry)
    create_markdown_artifact(
        key=f"approval-{stage}",
        markdown=f"### {release.id} in {stage}: **{decision}**\n\nBy {actor} {ticket} {comment}\n\n"
        f"Recorded at `s3://{bucket}/{key}`.\n",
        description=f"Approval of {release.id} in {stage}",
    )
    logger.info("%s in %s: %s by %s", release.id, stage, decision, actor)
    if decision == "approved":
        announce_approval(
            app.name, release.version, stage, settings.next_stages(stage), digests, actor, trigger_promotion
        )
    return entry


def next_stage_preview(settings: Settings, release: Release, stage: str, kind: str) -> str:
    """What deploying ``release`` as ``kind`` in ``stage`` would change there, as markdown; nothing is changed.
    A preview that cannot be made says why instead of stopping the approval."""
    if environment_kinds.kind(kind).chained:
        return "(the lookup service's stacks take their parameters from the prerequisites stack: not previewed)\n"
    config = settings.stage(stage)
    try:
        account = load_stage_account(settings, stage)
        network = deploy.stage_network(account.session(), config.vpc_id, config.subnet_ids)
        plans = deploy.plans(kind, stage, config.bucket, release, account.registry_login().host, network)
        return preview_deploy(account, plans, deploy.stack_tags(release.application, stage, release.version))
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
    resource = {"prefect.resource.id": f"cloudops.release.{application}.{version}", "cloudops.stage": stage}
    # The trigger matches on this label: approving the last stage promotes nothing, and neither does an
    # approval whose caller promotes the release itself (the release flow), so nothing is promoted twice.
    if next_stages and trigger_promotion:
        resource["cloudops.next-stage"] = next_stages[0]
    emit_event(
        event=APPROVED_EVENT,
        resource=resource,
        payload={
            "application": application,
            "version": version,
            "stage": stage,
            "next_stages": next_stages,
            "digests": digests,
            "approver": approver,
        },
    )
