"""rollback: redeploy the release a stage ran before its current one, checked and recorded in the audit trail."""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run

from cloudops import audit, environment_kinds, reports
from cloudops.deploy import kind_images
from cloudops.environment_kinds import KindName
from cloudops.promotion import PromotionRefusedError, check_approved
from cloudops.release_checks import ReleaseNotPromotedError
from cloudops.release_status import RollbackRefusedError, check_rollback_stage, rollback_target
from cloudops.settings import load_settings
from cloudops.verification_gates import VerificationFailedError
from flows.deploy_environment import deploy_environment
from flows.runtime.actor import run_actor
from flows.runtime.notify import FAILURE_HOOKS
from tasks.promotion import require_in_stage
from tasks.records import read_release, read_trail, record
from tasks.stages import open_pipeline


@flow(name="rollback", log_prints=False, on_failure=FAILURE_HOOKS, on_crashed=FAILURE_HOOKS)
def rollback(stage: str, kind: KindName = "author-live", started_by: str = "", reason: str = "") -> audit.AuditEntry:
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
        images = kind_images(release, kind_spec)
        require_in_stage(pipeline.stage(stage), release, images, list(kind_spec.snapshots))
    except ReleaseNotPromotedError as error:
        raise RollbackRefusedError(f"{what}: {error}") from None
    logger.info("rolling back %s (%s) from %s to %s", stage, kind, current.version, target.version)
    failed: VerificationFailedError | None = None
    try:  # verified as any deploy is, but never rolled back in turn: that could go on forever
        outcomes = deploy_environment(
            stage=stage, version=release.version, kind=kind, started_by=started_by, auto_rollback=False
        )
    except VerificationFailedError as error:
        failed, outcomes = error, []  # it runs all the same: the trail says it was rolled back, and failed
    entry = audit.rollback_entry(
        release,
        stage,
        kind_spec,
        (current.version, current.digests),
        {o.stack: o.executed for o in outcomes},
        actor=run_actor(started_by),
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
