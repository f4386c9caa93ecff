"""promote: copy a release's images by digest into the next stage's registry, gated by the previous stage's approval."""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run

from cloudops import audit, reports
from cloudops.environment_kinds import KindName
from cloudops.promotion import check_approved, copy_detail, release_digests, source_stage
from cloudops.settings import load_settings
from flows.deploy_and_rollback import deploy_environment
from flows.runtime.notify import FAILURE_HOOKS
from flows.runtime.stage_slot import holds_stage
from tasks.promotion import copy_image_task, share_snapshots
from tasks.records import read_release, read_trail, record
from tasks.shared_limits import registry_copies_limit
from tasks.stages import open_pipeline


@flow(name="promote", log_prints=False, on_failure=FAILURE_HOOKS, on_crashed=FAILURE_HOOKS)
@holds_stage("to_stage")
def promote(version: str, to_stage: str, deploy_kind: KindName | None = None) -> audit.AuditEntry:
    """Promote release ``version`` into ``to_stage``; then deploy it as ``deploy_kind`` when given.

    Refused without an approval of the stage it comes from (except from the build stage) for exactly
    the release's digests. Re-running finishes a promotion cut off half way without copying again what
    is there.

    Args:
        version: The release to promote: its version, or latest.
        to_stage: The stage to copy its images into (from the stage it promotes from, which must have approved it).
        deploy_kind: Then deploy it there as this kind of environment (leave empty: promote only).
    """
    logger = get_run_logger()
    settings = load_settings()
    from_stage = source_stage(settings, to_stage)
    pipeline = open_pipeline(from_stage, to_stage, settings=settings)
    app, build = pipeline.application, pipeline.build
    release = read_release(build, app.name, version)
    approval = check_approved(settings, release, to_stage, read_trail(build, app.name, release.version))
    source, destination = pipeline.stage(from_stage).account, pipeline.stage(to_stage).account
    digests = release_digests(release)
    tags = (release.version, release.commit)
    # the copies into the stage's registry, across every run, stay within [limits] registry_copies
    limit = registry_copies_limit(to_stage, settings.limits.registry_copies)
    futures = {
        name: copy_image_task.submit(source, destination, name, digest, tags, limit) for name, digest in digests.items()
    }
    copies = {name: future.result() for name, future in futures.items()}
    shared = share_snapshots(build.account, [s.identifier for s in release.snapshots.values()], destination.account_id)
    entry = audit.promotion_entry(
        release,
        from_stage,
        to_stage,
        digests,
        approved_by=approval.actor if approval else "(from the build stage)",
        snapshots=list(shared),
        copied=copy_detail(copies),
        flow_run_id=flow_run.get_id(),
    )
    key = record(build, entry)
    create_markdown_artifact(
        key=f"promotion-{to_stage}",
        markdown=reports.promotion_markdown(release, from_stage, to_stage, copies, f"s3://{build.bucket}/{key}"),
        description=f"Promotion of {release.id} to {to_stage}",
    )
    logger.info("release %s promoted from %s to %s", release.id, from_stage, to_stage)
    if deploy_kind is not None:
        deploy_environment(stage=to_stage, version=release.version, kind=deploy_kind)
    return entry
