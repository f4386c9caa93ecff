"""promote: copy a release's images by digest into the next stage's registry, gated by the previous stage's approval."""

from __future__ import annotations

from prefect import flow

from cloudops import audit
from cloudops.environment_kinds import KindName
from cloudops.gates.promotion import source_stage
from cloudops.settings import load_settings
from flows.deploy_and_rollback import deploy_or_roll_back
from flows.runtime.actor import run_actor
from flows.runtime.notify import FAILURE_HOOKS
from flows.runtime.stage_slot import holds_stage
from flows.work.deploying import DeployOptions
from flows.work.promoting import promote_release
from tasks.records import read_release, read_trail
from tasks.stages import open_pipeline


@flow(name="promote", log_prints=False, on_failure=FAILURE_HOOKS, on_crashed=FAILURE_HOOKS)
@holds_stage("to_stage")
def promote(version: str, to_stage: str, deploy_kind: KindName | None = None) -> audit.PromotionEntry:
    """Promote release ``version`` into ``to_stage``; then deploy it as ``deploy_kind`` when given.

    Refused without an approval of the stage it comes from (except from the build stage) for exactly
    the release's digests. Re-running finishes a promotion cut off half way without copying again what
    is there.

    Args:
        version: The release to promote: its version, or latest.
        to_stage: The stage to copy its images into (from the stage it promotes from, which must have approved it).
        deploy_kind: Then deploy it there as this kind of environment (leave empty: promote only).
    """
    settings = load_settings()
    pipeline = open_pipeline(source_stage(settings, to_stage), to_stage, settings=settings)
    app, build = pipeline.application, pipeline.build
    release = read_release(build, app.name, version)
    report = promote_release(pipeline, release, to_stage, read_trail(build, app.name, release.version))
    if deploy_kind is not None:
        options = DeployOptions(run_actor())
        deploy_or_roll_back(pipeline, release, pipeline.stage(to_stage), deploy_kind, options, auto_rollback=True)
    return report.entry
