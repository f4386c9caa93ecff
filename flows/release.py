"""release: the whole pipeline. Build in the build account, then for each stage up to ``to_stage``: promote,
deploy, and (before going further) wait for that stage's approval."""

from __future__ import annotations

import time
from collections.abc import Callable

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run

from blocks.pipeline import Pipeline
from cloudops import audit, environment_kinds, release_plan
from cloudops.environment_kinds import KindName
from cloudops.errors import CloudOpsError
from cloudops.gates.verified import VerificationFailedError
from cloudops.promotion import release_digests
from cloudops.release import Release
from cloudops.release_plan import ReleaseOutcome, StageOutcome, stages_to
from cloudops.settings import load_settings
from cloudops.trail import Trail
from flows.await_approval import SEVEN_DAYS, await_approval
from flows.build_release import build_release
from flows.deploy_and_rollback import deploy_or_roll_back
from flows.runtime.actor import run_actor
from flows.runtime.notify import FAILURE_HOOKS
from flows.runtime.stage_slot import stage_slot
from flows.work.deploying import DeployOptions
from flows.work.promoting import promote_release
from tasks.deploy import validate_templates
from tasks.promotion import not_in_stage
from tasks.records import read_trail
from tasks.stages import open_pipeline

Progress = Callable[[str], None]


class ReleaseStoppedError(CloudOpsError):
    """A release that did not reach its last stage: its deploy failed verification in a stage, a stage rejected
    it, or nobody answered in time."""


@flow(name="release", log_prints=False, on_failure=FAILURE_HOOKS, on_crashed=FAILURE_HOOKS)
def release(
    ref: str = "HEAD",
    to_stage: str = "prod",
    deploy_kind: KindName = "author-live",
    approval_timeout_seconds: int = SEVEN_DAYS,
    started_by: str = "",
    approval_poll_seconds: int = 10,
) -> ReleaseOutcome:
    """Release ``ref`` of the application all the way to ``to_stage``.

    Builds it once in the build account (nothing is rebuilt when nothing changed), then in each stage on the
    way: promotes it by digest, deploys it as ``deploy_kind`` (verified, and rolled back when it fails: the
    release stops there, nobody is asked), and, unless it is the last stage, waits for a person to approve it
    there (an approval already recorded for exactly these digests is not asked again). A rejection, or no
    answer within ``approval_timeout_seconds``, stops the release and fails the run.
    ``started_by`` may not approve where a stage forbids self-approval.

    Args:
        ref: The git ref (branch, tag or commit) of the application to build and release.
        to_stage: The last stage the release goes to, through every stage before it.
        deploy_kind: The kind of environment to deploy in each stage.
        approval_timeout_seconds: How long each stage waits for its approval; none in time stops the release.
        started_by: Who started the release (they may not approve where a stage forbids self-approval).
        approval_poll_seconds: How often, in seconds, a stage waiting for its approval looks for the answer.
    """
    logger = get_run_logger()
    settings = load_settings()
    path = stages_to(settings, to_stage)  # a wrong stage or kind fails before anything is built
    app = settings.require_application()
    environment_kinds.require_images(
        environment_kinds.kind(deploy_kind), app.images, app.dockerfiles, "application.dockerfiles"
    )
    pipeline = open_pipeline(*path, settings=settings)
    started = time.monotonic()

    def progress(message: str) -> None:
        logger.info("[%5.0f s] %s", time.monotonic() - started, message)

    progress(f"release of {pipeline.application.name} at {ref} to {to_stage}: build, then {' -> '.join(path)}")
    templates = validate_templates.submit(pipeline.build.account, deploy_kind)  # none deploys unchecked
    built: Release = build_release(ref=ref)
    templates.result()
    rebuilt = ReleaseOutcome(release=built, stages=()).rebuilt
    progress(
        f"built {built.id} (commit {built.commit[:12]}): "
        + (", ".join(rebuilt) if rebuilt else "nothing rebuilt, the package, images and snapshots were there")
    )
    trail = read_trail(pipeline.build, pipeline.application.name, built.version)  # once: added to as it records
    outcomes: list[StageOutcome] = []
    timing = (approval_timeout_seconds, approval_poll_seconds)
    for stage in path:
        try:
            outcome, recorded = promote_and_deploy(
                pipeline, built, trail, stage, deploy_kind, run_actor(started_by), progress
            )
        except VerificationFailedError as error:  # rolled back (or not) by deploy_or_roll_back: nobody is asked
            outcomes.append(release_plan.failed_outcome(stage, deploy_kind, str(error)))
            create_summary(built, outcomes, to_stage, str(error))
            progress(f"{stage}: {error}")
            raise ReleaseStoppedError(f"release {built.id} stopped in {stage}: {error}") from None
        trail = trail.added(*recorded)
        stopped = ""
        if stage != path[-1]:
            approval, reused = approval_of(pipeline, built, trail, stage, deploy_kind, started_by, timing, progress)
            trail = trail if reused else trail.added(approval)
            outcome = release_plan.approved_outcome(outcome, approval, reused)
            stopped = release_plan.stop_reason(approval)
        outcomes.append(outcome)
        if stopped:
            create_summary(built, outcomes, to_stage, stopped)
            raise ReleaseStoppedError(f"release {built.id} stopped before {to_stage}: {stopped}")
    create_summary(built, outcomes, to_stage)
    progress(f"{built.id} is in {to_stage}")
    return ReleaseOutcome(release=built, stages=tuple(outcomes))


def promote_and_deploy(
    pipeline: Pipeline,
    built: Release,
    trail: Trail,
    stage: str,
    kind: KindName,
    actor: str,
    progress: Progress,
) -> tuple[StageOutcome, list[audit.AuditEntry]]:
    """Promote ``built`` into ``stage`` (unless the stage still holds this promotion) and deploy it, holding the
    stage's slot from the promotion to the end of the deploy: nobody deploys another release between. The
    stage's outcome, and the entries recorded on the way (``trail``, the release's, is not changed)."""
    target = pipeline.stage(stage)
    recorded: list[audit.AuditEntry] = []
    with stage_slot(stage, target.config.when_busy):
        before = trail.promotion_of(built.version, stage, release_digests(built))
        missing = not_in_stage(target.account, stage, built) if before is not None else []
        reused = release_plan.promotion_still_there(before, missing)
        if before is not None and reused:
            copied = 0
            progress(f"{stage}: promoted before ({before.at:%Y-%m-%d %H:%M} UTC), still there; not copied again")
        else:
            promoted = promote_release(pipeline, built, stage, trail)
            recorded.append(promoted.entry)
            copied = promoted.entry.blobs_copied_total
            progress(f"{stage}: promoted ({copied} blob(s) copied)")
        # the release's templates were validated before its build; the promotion just checked or copied what it needs
        options = DeployOptions(actor, templates_checked=True, in_stage_checked=True)
        report = deploy_or_roll_back(pipeline, built, target, kind, options, auto_rollback=True)
        recorded += report.entries
    outcome = release_plan.deployed_outcome(
        stage,
        kind,
        report.outcomes,
        report.endpoints,
        promotion_reused=reused,
        blobs_copied=copied,
        verification=report.verification.comment,
    )
    progress(f"{stage}: deployed {kind} ({', '.join(outcome.stacks_changed) or 'no changes'}); {outcome.verification}")
    return outcome, recorded


def approval_of(
    pipeline: Pipeline,
    built: Release,
    trail: Trail,
    stage: str,
    kind: str,
    started_by: str,
    timing: tuple[int, int],
    progress: Progress,
) -> tuple[audit.ApprovalEntry, bool]:
    """The stage's approval of ``built``: one on record for exactly its digests (True: reused), or a person's
    answer to the await-approval run's form (the run named after this one, so the UI finds it)."""
    approval = trail.reusable_approval(built.version, stage, release_digests(built))
    if approval is not None:
        progress(f"{stage}: approved before by {approval.actor} ({approval.at:%Y-%m-%d %H:%M} UTC); not asked again")
        return approval, True
    progress(f"{stage}: waiting for approval (the form of the await-approval run in the UI)")
    timeout_seconds, poll_seconds = timing
    named = await_approval.with_options(flow_run_name=f"{flow_run.get_name()}-approval-{stage}")
    answer = named(
        version=built.version,
        stage=stage,
        timeout_seconds=timeout_seconds,
        started_by=started_by,
        poll_interval=poll_seconds,
        trigger_promotion=False,  # this flow promotes the release itself, right after
        deploy_kind=kind,
    )
    progress(f"{stage}: {answer.decision} by {answer.actor}")
    return answer, False


def create_summary(built: Release, outcomes: list[StageOutcome], to_stage: str, stopped: str = "") -> None:
    create_markdown_artifact(
        key="release-summary",
        markdown=release_plan.summary_markdown(built, outcomes, stopped),
        description=f"Release {built.id} to {to_stage}",
    )
