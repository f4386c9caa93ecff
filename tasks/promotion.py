"""Tasks of the promote flow."""

from __future__ import annotations

import time
from contextlib import ExitStack

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.concurrency.sync import concurrency

from blocks.aws_account import AwsAccount
from blocks.pipeline import StageTarget
from cloudops.aws import rds
from cloudops.image_copy import CopyReport, copy_image
from cloudops.promotion import release_digests
from cloudops.registry import RegistryClient
from cloudops.release import Release
from cloudops.release_checks import missing_images, require_promoted, unshared_snapshots
from tasks.retry import AWS_RETRIES


@task(name="copy-image", task_run_name="copy-image-{name}", cache_policy=NO_CACHE, **AWS_RETRIES)
def copy_image_task(
    source: AwsAccount,
    destination: AwsAccount,
    name: str,
    digest: str,
    tags: tuple[str, ...],
    registry_limit: str | None = None,
) -> CopyReport:
    """Copy one image by digest: the source account's registry is read, the destination's written; while it
    copies, it holds a slot of ``registry_limit`` (the copies into that registry, across every run)."""
    logger = get_run_logger()
    with ExitStack() as stack:
        if registry_limit is not None:
            asked = time.monotonic()
            stack.enter_context(concurrency(registry_limit, occupy=1, strict=True))
            logger.info("%s: a slot of %s, after %.1f s", name, registry_limit, time.monotonic() - asked)
        reader = stack.enter_context(RegistryClient(source.registry_login()))
        writer = stack.enter_context(RegistryClient(destination.registry_login()))
        report = copy_image(reader, name, writer, name, digest, tags)
        logger.info(
            "%s@%s: %d blob(s) copied (%d bytes), %d mounted, %d already there, %d manifest(s) written",
            name,
            digest,
            len(report.copied),
            report.bytes_copied,
            len(report.mounted),
            len(report.present),
            report.manifests_written,
        )
    return report


@task(name="share-snapshots", cache_policy=NO_CACHE, **AWS_RETRIES)
def share_snapshots(build: AwsAccount, identifiers: list[str], account_id: str) -> dict[str, list[str]]:
    """Let the destination account restore the release's snapshots (the build account owns them)."""
    session = build.session()
    return {identifier: rds.share_snapshot(session, identifier, [account_id]) for identifier in identifiers}


@task(name="check-promoted", task_run_name="check-promoted-{stage}", cache_policy=NO_CACHE, **AWS_RETRIES)
def not_in_stage(account: AwsAccount, stage: str, release: Release) -> list[str]:
    """What of the release the stage lacks: its images by digest in the stage's registry, its snapshots shared
    with the stage's account (empty: a promotion would copy nothing)."""
    with RegistryClient(account.registry_login()) as registry:
        missing = missing_images(registry, release, sorted(release_digests(release)))
    return missing + unshared_snapshots(account.session(), release, sorted(release.snapshots))


@task(
    name="check-release-in-stage", task_run_name="check-release-in-{target.name}", cache_policy=NO_CACHE, **AWS_RETRIES
)
def require_in_stage(target: StageTarget, release: Release, images: list[str], environments: list[str]) -> None:
    """Stop (:class:`ReleaseNotPromotedError`) unless the stage's registry holds ``images`` of the release by
    digest and the snapshots of ``environments`` are shared with the stage's account."""
    with RegistryClient(target.account.registry_login()) as registry:
        require_promoted(target.name, registry, target.account.session(), release, images, environments)
