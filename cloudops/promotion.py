"""Promotion rules: which stage a release comes from, and whether it may go on.

A release goes from the stage it promotes from into the next one; from the build stage freely, from
any other stage only with an approval of that stage, and its passed verification, recorded for exactly the
release's digests.
"""

from __future__ import annotations

from collections.abc import Sequence

from cloudops.audit import AuditEntry, PromotionEntry, latest_approval
from cloudops.errors import CloudOpsError
from cloudops.image_copy import CopyReport
from cloudops.release import Release
from cloudops.settings import Settings
from cloudops.verification_gates import NotVerifiedError, require_verified


class PromotionRefusedError(CloudOpsError):
    """A promotion that the approvals do not allow."""


def release_digests(release: Release) -> dict[str, str]:
    return {name: image.digest for name, image in sorted(release.images.items()) if name != "base"}


def source_stage(settings: Settings, to_stage: str) -> str:
    """The stage ``to_stage`` promotes from; the build stage itself is never a destination."""
    stage = settings.stage(to_stage)
    if stage.promotes_from is None:
        raise PromotionRefusedError(
            f"stage {to_stage!r} is the build stage: it builds images and receives none; promote to one of "
            f"{', '.join(settings.next_stages(to_stage))}"
        )
    return stage.promotes_from


def check_approved(
    settings: Settings, release: Release, to_stage: str, trail: Sequence[AuditEntry]
) -> AuditEntry | None:
    """The approval that allows promoting ``release`` to ``to_stage`` (None from the build stage), or an error.
    The stage it comes from must also have verified it, for the same digests."""
    from_stage = source_stage(settings, to_stage)
    if from_stage == settings.build_stage:
        return None
    approval = latest_approval(trail, release.version, from_stage)
    if approval is None or approval.decision != "approved":
        state = "no approval" if approval is None else f"its last decision is {approval.decision!r}"
        raise PromotionRefusedError(
            f"release {release.id} cannot go to {to_stage}: {from_stage} has {state} for it; it must be approved "
            f"in {from_stage} first (the approval form of its deploy run, or `cloudops approve`)"
        )
    wanted = release_digests(release)
    if approval.digests != wanted:
        differ = sorted(k for k in set(wanted) | set(approval.digests) if wanted.get(k) != approval.digests.get(k))
        raise PromotionRefusedError(
            f"release {release.id} cannot go to {to_stage}: the approval in {from_stage} was for other digests "
            f"({', '.join(differ)}); approve the digests being promoted"
        )
    try:
        require_verified(trail, release, from_stage, f"cannot go to {to_stage}")
    except NotVerifiedError as error:
        raise PromotionRefusedError(str(error)) from None
    return approval


def copy_detail(reports: dict[str, CopyReport]) -> tuple[dict[str, int], dict[str, int]]:
    """What a promotion moved, per image, for its audit entry: the blobs copied now, and those there already or
    mounted (a rerun after a crash copies only what the first run did not)."""
    ordered = sorted(reports.items())
    return {n: len(r.copied) for n, r in ordered}, {n: len(r.present) + len(r.mounted) for n, r in ordered}


def blobs_copied(entry: PromotionEntry) -> int:
    """How many blobs the promotion of ``entry`` copied, over all its images."""
    return entry.blobs_copied_total
