"""Checks before a deploy touches any stack: the release's images are in the stage's own registry, and
its snapshots are shared with the stage's account."""

from __future__ import annotations

from cloudops.aws import rds
from cloudops.aws.session import AccountSession
from cloudops.errors import CloudOpsError
from cloudops.registry import RegistryClient
from cloudops.release import Release


class ReleaseNotPromotedError(CloudOpsError):
    """A release that is not (fully) in a stage yet."""


def missing_images(registry: RegistryClient, release: Release, names: list[str]) -> list[str]:
    """``name@digest`` of each image the stage's registry lacks."""
    missing = []
    for name in names:
        image = release.images.get(name)
        if image is None:
            raise ReleaseNotPromotedError(f"release {release.id} has no image {name!r}; build it with build-release")
        if registry.manifest_digest(name, image.digest) is None:
            missing.append(f"{name}@{image.digest}")
    return missing


def unshared_snapshots(account: AccountSession, release: Release, environments: list[str]) -> list[str]:
    """Snapshot ids of the release that the stage's account cannot restore."""
    visible = rds.visible_snapshot_arns(account)
    missing = []
    for environment in environments:
        snapshot = release.snapshots.get(environment)
        if snapshot is None or snapshot.arn not in visible:
            missing.append(snapshot.identifier if snapshot else f"({environment}: none in the release)")
    return missing


def require_promoted(
    stage: str,
    registry: RegistryClient,
    account: AccountSession,
    release: Release,
    images: list[str],
    environments: list[str],
) -> None:
    """Raise :class:`ReleaseNotPromotedError` naming what is missing, or return."""
    problems = []
    images_missing = missing_images(registry, release, images)
    if images_missing:
        problems.append(f"images not in {stage}'s registry {registry.host}: {', '.join(images_missing)}")
    snapshots_missing = unshared_snapshots(account, release, environments)
    if snapshots_missing:
        problems.append(
            f"snapshots not shared with {stage}'s account {account.account_id}: {', '.join(snapshots_missing)}"
        )
    if problems:
        raise ReleaseNotPromotedError(
            f"release {release.id} is not promoted to {stage}: {'; '.join(problems)}. Promote it first "
            f"(the promote flow to {stage}); no stack was touched"
        )
