"""The deploy-environment flow and the rollback flow.

deploy-environment (DeployAuthorAndLive, DeploySingleInstanceDevEnvironment, the Data Lookup Service) deploys a
release, by image digest and snapshot id, into one stage's account with that account's own block, and rolls the
stage back when its verification fails; rollback redeploys the release a stage ran before its current one, checked
and recorded in the audit trail. Both resolve their names once and deploy through
:func:`flows.work.deploying.deploy_release`; :func:`deploy_or_roll_back` is the deploy with its failure handled,
which promote and release call too."""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run

from blocks.pipeline import Pipeline, StageTarget
from cloudops import audit, deploy, environment_kinds, reports
from cloudops.environment_kinds import KindName
from cloudops.gates.promotion import PromotionRefusedError, check_approved
from cloudops.gates.rollback import (
    NothingToRollBackError,
    RollbackRefusedError,
    check_rollback_stage,
    held_back_from_rollback,
    rollback_target,
)
from cloudops.gates.verified import VerificationFailedError, failure_message
from cloudops.release import Release
from cloudops.release_checks import ReleaseNotPromotedError
from cloudops.settings import load_settings
from flows.runtime.actor import run_actor
from flows.runtime.notify import FAILURE_HOOKS
from flows.runtime.stage_slot import holds_stage
from flows.work.deploying import DeployOptions, DeployReport, deploy_release
from tasks.promotion import require_in_stage
from tasks.records import read_release, read_trail, record
from tasks.stages import open_pipeline


@flow(name="deploy-environment", log_prints=False, on_failure=FAILURE_HOOKS, on_crashed=FAILURE_HOOKS)
@holds_stage("stage")
def deploy_environment(
    stage: str,
    version: str = "latest",
    kind: KindName = "author-live",
    recreate_failed: bool = False,
    restore_database: bool = False,
    started_by: str = "",
    auto_rollback: bool = True,
) -> list[deploy.StackOutcome]:
    """Deploy release ``version`` of the application as environment ``kind`` in ``stage``.

    Checks first that the release's images are in the stage's registry and its snapshots shared with
    the stage's account; then each stack through a change set (shown before it runs; none when nothing
    changes). ``recreate_failed`` lets a stack left in ROLLBACK_COMPLETE by a failed first create be
    deleted and created again. An existing Author or Live environment keeps its database unless
    ``restore_database`` replaces it with the release's snapshot (the change set flags the replacement).
    ``started_by``: who the audit trail names as deploying it (a release passes its own; else who started the run).

    Then the deploy is verified (its services steady, its targets healthy, the application's smoke checks of
    ``kind``, the stage's soak) and the verification recorded. A failed one rolls the stage back to the release
    it ran before, through the rollback flow (unless ``auto_rollback`` is off here or in the stage), and fails
    the run naming the failed check and what the rollback did.

    Args:
        stage: The stage to deploy in (its images must have been promoted there).
        version: The release to deploy: its version, or latest.
        kind: The kind of environment to deploy.
        recreate_failed: Delete and create again a stack left in ROLLBACK_COMPLETE by a failed first create.
        restore_database: Replace an existing environment's database with the release's snapshot.
        started_by: Who the audit trail names as deploying it (leave empty: whoever started the run).
        auto_rollback: Roll the stage back to the release it ran before when the verification fails.
    """
    environment_kinds.kind(kind)  # an unknown kind fails before any stage is opened
    pipeline = open_pipeline(stage)
    release = read_release(pipeline.build, pipeline.application.name, version)
    options = DeployOptions(run_actor(started_by), recreate_failed, restore_database)
    report = deploy_or_roll_back(pipeline, release, pipeline.stage(stage), kind, options, auto_rollback)
    return report.outcomes


def deploy_or_roll_back(
    pipeline: Pipeline,
    release: Release,
    target: StageTarget,
    kind: KindName,
    options: DeployOptions,
    auto_rollback: bool,
) -> DeployReport:
    """Deploy ``release`` into ``target`` and verify it; a failed verification rolls the stage back (through the
    rollback flow, unless ``auto_rollback`` is off here or in the stage) and raises
    :class:`VerificationFailedError`, naming the failed check and what the rollback did."""
    report = deploy_release(pipeline, release, target, kind, options)
    if not report.passed:
        held_back = held_back_from_rollback(target.name, auto_rollback, target.config.auto_rollback)
        after = held_back or roll_back_after(target.name, kind, options.actor, report.summary)
        raise VerificationFailedError(failure_message(release.id, target.name, kind, report.summary, after))
    return report


def roll_back_after(stage: str, kind: KindName, actor: str, summary: str) -> str:
    """Roll ``stage`` back after a failed verification (``summary``), through the rollback flow with its own
    verification; what came of it, as the end of the failed run's message."""
    logger = get_run_logger()
    logger.warning("%s; rolling %s (%s) back to the release it ran before", summary, stage, kind)
    try:
        done = rollback(stage=stage, kind=kind, started_by=actor, reason=f"automatic, after {summary}")
    except NothingToRollBackError:
        return f"there is nothing to roll back to (no earlier release of {kind} there): {stage} stays as it is"
    except Exception as error:  # any failure of the rollback is told with the verification's, not instead of it
        return f"the automatic rollback failed: {error}"
    return f"rolled back to {done.version}, which passed its verification"


@flow(name="rollback", log_prints=False, on_failure=FAILURE_HOOKS, on_crashed=FAILURE_HOOKS)
def rollback(stage: str, kind: KindName = "author-live", started_by: str = "", reason: str = "") -> audit.RollbackEntry:
    """Redeploy in ``stage`` the release of ``kind`` deployed there before the current one.

    The target comes from the audit trail (a release rolled back from is skipped, so a second rollback goes
    further back). Before any stack is touched: its images must still be in the stage's registry, its
    snapshots still shared with the stage's account, and it must pass the same approval gate a promotion
    into the stage passes today (a release later rejected in the previous stage is refused). Its deploy is
    verified; a failed verification fails the rollback (recorded all the same) without rolling back again.

    Args:
        stage: The stage to roll back.
        kind: The kind of environment to roll back.
        started_by: Who the audit trail names as rolling it back (leave empty: whoever started the run).
        reason: Why, for the audit trail.
    """
    logger = get_run_logger()
    settings = load_settings()
    settings.stage(stage)
    kind_spec = environment_kinds.kind(kind)
    check_rollback_stage(settings.build_stage, stage, settings.promotion_order())
    pipeline = open_pipeline(stage, settings=settings)
    app, build = pipeline.application, pipeline.build
    trail = read_trail(build, app.name)
    current, target = rollback_target(trail, stage, kind)
    what = f"cannot roll back {stage} ({kind}) from {current.version} to {target.version}"
    release = read_release(build, app.name, target.version)
    try:
        check_approved(settings, release, stage, trail)
    except PromotionRefusedError as error:
        raise RollbackRefusedError(f"{what}: {error}; nothing was touched") from None
    try:
        images = deploy.kind_images(release, kind_spec)
        require_in_stage(pipeline.stage(stage), release, images, list(kind_spec.snapshots))
    except ReleaseNotPromotedError as error:
        raise RollbackRefusedError(f"{what}: {error}") from None
    logger.info("rolling back %s (%s) from %s to %s", stage, kind, current.version, target.version)
    failed: VerificationFailedError | None = None
    actor = run_actor(started_by)
    # verified as any deploy is, but never rolled back in turn: that could go on forever; its images and snapshots
    # were checked in the stage just above
    report = deploy_release(pipeline, release, pipeline.stage(stage), kind, DeployOptions(actor, in_stage_checked=True))
    if not report.passed:  # it runs all the same: the trail says it was rolled back, and failed
        held_back = held_back_from_rollback(stage, False, pipeline.stage(stage).config.auto_rollback)
        failed = VerificationFailedError(failure_message(release.id, stage, kind, report.summary, held_back or ""))
    outcomes = report.outcomes
    entry = audit.rollback_entry(
        release,
        stage,
        kind_spec,
        (current.version, current.digests),
        {o.stack: o.executed for o in outcomes},
        actor=actor,
        reason=reason + (f" (its verification failed: {failed})" if failed else ""),
        flow_run_id=flow_run.get_id(),
    )
    key = record(build, entry)
    create_markdown_artifact(
        key=f"rollback-{stage}-{kind}",
        markdown=reports.rollback_markdown(entry, kind, current.version, current.digests, f"s3://{build.bucket}/{key}"),
        description=f"Rollback of {stage} to {release.id}",
    )
    if failed is not None:
        raise VerificationFailedError(f"{stage} ({kind}) was rolled back to {release.version}, but {failed}")
    logger.info("%s (%s) rolled back from %s to %s", stage, kind, current.version, release.version)
    return entry
