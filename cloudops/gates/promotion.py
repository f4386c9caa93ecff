"""The promotion gate: which stage a release comes from, and whether it may go on into the next.

A release goes from the stage it promotes from into the next one; from the build stage freely, from any other
stage only with an approval of that stage, and its passed verification, recorded for exactly the release's
digests.
"""

from __future__ import annotations

from cloudops.audit import ApprovalEntry
from cloudops.errors import CloudOpsError
from cloudops.gates.verified import NotVerifiedError, require_verified
from cloudops.promotion import release_digests
from cloudops.release import Release
from cloudops.settings import Settings
from cloudops.trail import Trail


class PromotionRefusedError(CloudOpsError):
    """A promotion that the approvals do not allow."""


def source_stage(settings: Settings, to_stage: str) -> str:
    """The stage ``to_stage`` promotes from; the build stage itself is never a destination."""
    stage = settings.stage(to_stage)
    if stage.promotes_from is None:
        raise PromotionRefusedError(
            f"stage {to_stage!r} is the build stage: it builds images and receives none; promote to one of "
            f"{', '.join(settings.next_stages(to_stage))}"
        )
    return stage.promotes_from


def check_approved(settings: Settings, release: Release, to_stage: str, trail: Trail) -> ApprovalEntry | None:
    """The approval that allows promoting ``release`` to ``to_stage`` (None from the build stage), or an error.
    The stage it comes from must also have verified it, for the same digests."""
    from_stage = source_stage(settings, to_stage)
    if from_stage == settings.build_stage:
        return None
    approval = trail.approval_of(release.version, from_stage)
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
