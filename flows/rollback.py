"""rollback: redeploy the release a stage ran before its current one, checked and recorded in the audit trail."""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run

from blocks.stage_accounts import load_stage_account
from cloudops import audit, environment_kinds
from cloudops.environment_kinds import KindName
from cloudops.promotion import PromotionRefusedError, check_approved
from cloudops.registry import RegistryClient
from cloudops.release import load_release
from cloudops.release_checks import ReleaseNotPromotedError, require_promoted
from cloudops.release_status import DEPLOY_KIND, FROM, NothingToRollBackError, RollbackRefusedError, rollback_target
from cloudops.settings import load_settings
from flows.deploy_environment import deploy_environment
from flows.package import application_of
from tasks.audit import record_entry, run_actor
from tasks.notify import FAILURE_HOOKS


@flow(name="rollback", log_prints=False, on_failure=FAILURE_HOOKS, on_crashed=FAILURE_HOOKS)
def rollback(stage: str, kind: KindName = "author-live", started_by: str = "", reason: str = "") -> audit.AuditEntry:
    """Redeploy in ``stage`` the release of ``kind`` deployed there before the current one.

    The target comes from the audit trail (a release rolled back from is skipped, so a second rollback goes
    further back). Before any stack is touched: its images must still be in the stage's registry, its
    snapshots still shared with the stage's account, and it must pass the same approval gate a promotion
    into the stage passes today (a release later rejected in the previous stage is refused).
    """
    logger = get_run_logger()
    settings = load_settings()
    settings.stage(stage)
    kind_spec = environment_kinds.kind(kind)
    if stage == settings.build_stage:
        raise NothingToRollBackError(
            f"stage {stage!r} is the build stage: nothing is deployed there; roll back one of "
            f"{', '.join(n for n in settings.promotion_order() if n != stage)}"
        )
    app = application_of(settings)
    build = load_stage_account(settings, settings.build_stage)
    bucket = settings.stage(settings.build_stage).bucket
    trail = audit.entries(build.session(), bucket, app.name)
    current, target = rollback_target(trail, stage, kind)
    what = f"cannot roll back {stage} ({kind}) from {current.version} to {target.version}"
    release = load_release(build.session(), bucket, app.name, target.version)
    try:
        check_approved(settings, release, stage, trail)
    except PromotionRefusedError as error:
        raise RollbackRefusedError(f"{what}: {error}; nothing was touched") from None
    account = load_stage_account(settings, stage)
    with RegistryClient(account.registry_login()) as registry:
        try:
            images, snapshots = kind_spec.image_names(release.image_roles), list(kind_spec.snapshots)
            require_promoted(stage, registry, account.session(), release, images, snapshots)
        except ReleaseNotPromotedError as error:
            raise RollbackRefusedError(f"{what}: {error}") from None
    logger.info("rolling back %s (%s) from %s to %s", stage, kind, current.version, target.version)
    outcomes = deploy_environment(stage=stage, version=release.version, kind=kind, started_by=started_by)
    entry = audit.AuditEntry(
        kind="rollback",
        application=app.name,
        version=release.version,
        stage=stage,
        actor=run_actor(started_by),
        digests={name: release.images[name].digest for name in kind_spec.image_names(release.image_roles)},
        comment=reason,
        flow_run_id=flow_run.get_id(),
        detail={
            DEPLOY_KIND: kind,
            FROM: current.version,
            "from_digests": ", ".join(f"{n}={d}" for n, d in current.digests.items()),
            "stacks": ", ".join(f"{o.stack}={'changed' if o.executed else 'unchanged'}" for o in outcomes),
        },
    )
    key = record_entry(build, bucket, entry)
    create_markdown_artifact(
        key=f"rollback-{stage}-{kind}",
        markdown=(
            f"### Rollback of {stage} ({kind}): {current.version} -> {release.version}\n\n"
            f"By {entry.actor}{f': {reason}' if reason else ''}\n\n| image | from | to |\n|---|---|---|\n"
            + "\n".join(f"| {n} | `{current.digests.get(n, '-')}` | `{d}` |" for n, d in entry.digests.items())
            + f"\n\nRecorded at `s3://{bucket}/{key}`.\n"
        ),
        description=f"Rollback of {stage} to {release.id}",
    )
    logger.info("%s (%s) rolled back from %s to %s", stage, kind, current.version, release.version)
    return entry
