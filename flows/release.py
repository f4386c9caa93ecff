"""release: the whole pipeline. Build in the build account, then for each stage up to ``to_stage``: promote,
deploy, and (before going further) wait for that stage's approval."""

from __future__ import annotations

import time

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run

from blocks.stage_accounts import load_stage_account
from cloudops import audit, environment_kinds
from cloudops.environment_kinds import KindName
from cloudops.errors import CloudOpsError
from cloudops.promotion import blobs_copied, release_digests
from cloudops.release import Release
from cloudops.release_plan import (
    ReleaseOutcome,
    StageOutcome,
    previous_promotion,
    reusable_approval,
    stages_to,
    summary_markdown,
)
from cloudops.settings import load_settings
from flows.await_approval import SEVEN_DAYS, await_approval
from flows.build_release import build_release
from flows.deploy_environment import deploy_environment
from flows.package import application_of
from flows.promote import promote
from tasks.audit import run_actor
from tasks.deploy import read_endpoints, validate_templates
from tasks.notify import FAILURE_HOOKS
from tasks.promotion import not_in_stage
from tasks.stage_slot import stage_slot


class ReleaseStoppedError(CloudOpsError):
    """A release that did not reach its last stage: a stage rejected it, or nobody answered in time."""


@flow(name="release", log_prints=False, on_failure=FAILURE_HOOKS, on_crashed=FAILURE_HOOKS)
def release(
    ref: str = "HEAD",
    to_stage: str = "prod",
    deploy_kind: KindName = "author-live",
    approval_timeout_seconds: int = SEVEN_DAYS,
    started_by: str = "",
    rds_databases: str | None = None,
    approval_poll_seconds: int = 10,
) -> ReleaseOutcome:
    """Release ``ref`` of the application all the way to ``to_stage``.

    Builds it once in the build account (nothing is rebuilt when nothing changed), then in each stage on the
    way: promotes it by digest, deploys it as ``deploy_kind``, and, unless it is the last stage, waits for a
    person to approve it there (an approval already recorded for exactly these digests is not asked again).
    A rejection, or no answer within ``approval_timeout_seconds``, stops the release and fails the run.
    ``started_by`` may not approve where a stage forbids self-approval. ``rds_databases``: the sandbox's
    MySQL Server block for RDS data (leave empty on AWS). A run waiting for approval checks for the answer
    every ``approval_poll_seconds``.
    """
    logger = get_run_logger()
    settings = load_settings()
    app = application_of(settings)
    path = stages_to(settings, to_stage)  # a wrong stage or kind fails before anything is built
    environment_kinds.kind(deploy_kind)
    build = load_stage_account(settings, settings.build_stage)
    bucket = settings.stage(settings.build_stage).bucket
    started = time.monotonic()
    actor = run_actor(started_by)  # who the audit trail names for this release's deploys

    def progress(message: str) -> None:
        logger.info("[%5.0f s] %s", time.monotonic() - started, message)

    progress(f"release of {app.name} at {ref} to {to_stage}: build, then {' -> '.join(path)}")
    templates = validate_templates.submit(build, deploy_kind)  # while the build runs; none deploys unchecked
    built: Release = build_release(ref=ref, rds_databases=rds_databases)
    templates.result()
    rebuilt = ReleaseOutcome(release=built, stages=()).rebuilt
    progress(
        f"built {built.id} (commit {built.commit[:12]}): "
        + (", ".join(rebuilt) if rebuilt else "nothing rebuilt, the package, images and snapshots were there")
    )
    digests = release_digests(built)
    outcomes: list[StageOutcome] = []
    stopped = ""
    for stage in path:
        # The stage is held from the promotion to the end of its deploy: nobody deploys another release between.
        with stage_slot(stage, settings.stage(stage).when_busy):
            account = load_stage_account(settings, stage)
            trail = audit.entries(build.session(), bucket, app.name, built.version)
            before = previous_promotion(trail, built.version, stage, digests)
            promoted_before = before is not None and not not_in_stage(account, stage, built)
            if before is not None and promoted_before:
                copied = 0
                progress(f"{stage}: promoted before ({before.at:%Y-%m-%d %H:%M} UTC), still there; not copied again")
            else:
                entry = promote(version=built.version, to_stage=stage)
                copied = blobs_copied(entry)
                progress(f"{stage}: promoted ({copied} blob(s) copied)")
            stacks = deploy_environment(stage=stage, version=built.version, kind=deploy_kind, started_by=actor)
        changed = tuple(s.stack for s in stacks if s.executed)
        progress(f"{stage}: deployed {deploy_kind} ({', '.join(changed) or 'no changes'})")
        outcome = StageOutcome(
            stage=stage,
            promoted=True,
            promotion_reused=promoted_before,
            blobs_copied=copied,
            deployed=deploy_kind,
            stacks_changed=changed,
            endpoints={s.stack: s.outputs["AppEndpoint"] for s in stacks if "AppEndpoint" in s.outputs},
            config=read_endpoints(account, stage, app.name),
        )
        if stage != path[-1]:
            trail = audit.entries(build.session(), bucket, app.name, built.version)
            approval = reusable_approval(trail, built.version, stage, digests)
            reused = approval is not None
            if approval is not None:
                when = f"{approval.at:%Y-%m-%d %H:%M} UTC"
                progress(f"{stage}: approved before by {approval.actor} ({when}); not asked again")
            else:
                progress(f"{stage}: waiting for approval (the form of the await-approval run in the UI)")
                # Named after this run, so a person finds the form of this release's approval in the UI.
                named = await_approval.with_options(flow_run_name=f"{flow_run.get_name()}-approval-{stage}")
                approval = named(
                    version=built.version,
                    stage=stage,
                    timeout_seconds=approval_timeout_seconds,
                    started_by=started_by,
                    poll_interval=approval_poll_seconds,
                    trigger_promotion=False,  # this flow promotes the release itself, right after
                    deploy_kind=deploy_kind,
                )
                progress(f"{stage}: {approval.decision} by {approval.actor}")
            outcome = outcome.model_copy(
                update={
                    "decision": approval.decision or "",
                    "approver": approval.actor,
                    "approval_reused": reused,
                }
            )
            if approval.decision != "approved":
                stopped = f"{approval.decision} in {stage} by {approval.actor}" + (
                    f": {approval.comment}" if approval.comment else ""
                )
        outcomes.append(outcome)
        if stopped:
            break
    create_markdown_artifact(
        key="release-summary",
        markdown=summary_markdown(built, outcomes, stopped),
        description=f"Release {built.id} to {to_stage}",
    )
    if stopped:
        raise ReleaseStoppedError(f"release {built.id} stopped before {to_stage}: {stopped}")
    progress(f"{built.id} is in {to_stage}")
    return ReleaseOutcome(release=built, stages=tuple(outcomes))
