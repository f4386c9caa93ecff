"""Promoting a release into one stage: its images copied by digest from the stage before, its snapshots shared with
the stage's account, gated by that stage's approval in the trail the run holds, and recorded."""

from __future__ import annotations

from dataclasses import dataclass

from prefect import get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run

from blocks.pipeline import Pipeline
from cloudops import audit, reports
from cloudops.gates.promotion import check_approved, source_stage
from cloudops.image_copy import CopyReport
from cloudops.promotion import copy_detail, release_digests
from cloudops.release import Release
from cloudops.trail import Trail
from tasks.promotion import copy_image_task, share_snapshots
from tasks.records import record
from tasks.shared_limits import registry_copies_limit


@dataclass(frozen=True)
class PromotionReport:
    """What a promotion did: each image's copy, and the entry it recorded."""

    copies: dict[str, CopyReport]
    entry: audit.PromotionEntry


def promote_release(pipeline: Pipeline, release: Release, to_stage: str, trail: Trail) -> PromotionReport:
    """Promote ``release`` into ``to_stage`` from the stage before it (both opened in ``pipeline``), refused
    without that stage's approval of exactly its digests in ``trail`` (the release's)."""
    settings, build = pipeline.settings, pipeline.build
    from_stage = source_stage(settings, to_stage)
    approval = check_approved(settings, release, to_stage, trail)
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
    get_run_logger().info("release %s promoted from %s to %s", release.id, from_stage, to_stage)
    return PromotionReport(copies, entry)
