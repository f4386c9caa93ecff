"""promote: copy a release's images by digest into the next stage's registry, gated by the previous stage's approval."""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run

from blocks.stage_accounts import load_stage_account
from cloudops import audit
from cloudops.environment_kinds import KindName
from cloudops.promotion import check_approved, copy_detail, release_digests, source_stage
from cloudops.release import load_release
from cloudops.settings import load_settings
from flows.deploy_environment import deploy_environment
from flows.package import application_of
from tasks.notify import FAILURE_HOOKS
from tasks.promotion import copy_image_task, share_snapshots
from tasks.stage_slot import holds_stage


@flow(name="promote", log_prints=False, on_failure=FAILURE_HOOKS, on_crashed=FAILURE_HOOKS)
@holds_stage("to_stage")
def promote(version: str, to_stage: str, deploy_kind: KindName | None = None) -> audit.AuditEntry:
    """Promote release ``version`` into ``to_stage``; then deploy it as ``deploy_kind`` when given.

    Refused without an approval of the stage it comes from (except from the build stage) for exactly
    the release's digests. Re-running finishes a promotion cut off half way without copying again what
    is there.
    """
    logger = get_run_logger()
    settings = load_settings()
    app = application_of(settings)
    from_stage = source_stage(settings, to_stage)
    build = load_stage_account(settings, settings.build_stage)
    bucket = settings.stage(settings.build_stage).bucket
    release = load_release(build.session(), bucket, app.name, version)
    approval = check_approved(
        settings, release, to_stage, audit.entries(build.session(), bucket, app.name, release.version)
    )
    source = load_stage_account(settings, from_stage)
    destination = load_stage_account(settings, to_stage)
    digests = release_digests(release)
    tags = (release.version, release.commit)
    futures = {
        name: copy_image_task.submit(source, destination, name, digest, tags) for name, digest in digests.items()
    }
    reports = {name: future.result() for name, future in futures.items()}
    shared = share_snapshots(build, [s.identifier for s in release.snapshots.values()], destination.account_id)
    entry = audit.AuditEntry(
        kind="promotion",
        application=app.name,
        version=release.version,
        stage=to_stage,
        actor=f"flow-run:{flow_run.get_id()}",
        digests=digests,
        flow_run_id=flow_run.get_id(),
        detail={
            "from": from_stage,
            "approved_by": approval.actor if approval else "(from the build stage)",
            "snapshots": ", ".join(shared),
            **copy_detail(reports),
        },
    )
    key = audit.record(build.session(), bucket, entry)
    rows = "\n".join(
        f"| {n} | `{d}` | {len(reports[n].copied)} | {len(reports[n].present) + len(reports[n].mounted)} |"
        for n, d in digests.items()
    )
    create_markdown_artifact(
        key=f"promotion-{to_stage}",
        markdown=f"### {release.id}: {from_stage} -> {to_stage}\n\n| image | digest | blobs copied | already there |\n"
        f"|---|---|---|---|\n{rows}\n\nRecorded at `s3://{bucket}/{key}`.\n",
        description=f"Promotion of {release.id} to {to_stage}",
    )
    logger.info("release %s promoted from %s to %s", release.id, from_stage, to_stage)
    if deploy_kind is not None:
        deploy_environment(stage=to_stage, version=release.version, kind=deploy_kind)
    return entry
