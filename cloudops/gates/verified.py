"""The verification gate: what a deploy's verification lets happen next. Only a release its stage verified, for
exactly the digests it runs there, is offered for approval there and promoted out of there."""

from __future__ import annotations

from cloudops import environment_kinds
from cloudops.audit import VerificationEntry, deployed_digests
from cloudops.errors import CloudOpsError
from cloudops.release import Release
from cloudops.trail import Trail


class VerificationFailedError(CloudOpsError):
    """A deploy whose verification failed; the message names the failed check and what the rollback did."""


class NotVerifiedError(CloudOpsError):
    """An approval or a promotion of a release that its stage has not verified (or verified for other digests)."""


def require_verified(
    trail: Trail, release: Release, stage: str, doing: str, kind_name: str | None = None
) -> list[VerificationEntry]:
    """The verifications that let ``release`` go on from ``stage`` (of ``kind_name``, or of every kind deployed
    there), or a :class:`NotVerifiedError` starting with ``doing`` (e.g. "cannot be approved in qa")."""
    latest = trail.verifications_of(release.version, stage)
    wanted = latest if kind_name is None else {k: e for k, e in latest.items() if k == kind_name}
    what = f"release {release.id} {doing}"
    if not wanted:
        of = f" of kind {kind_name}" if kind_name else ""
        raise NotVerifiedError(
            f"{what}: no deploy{of} of it in {stage} was verified; deploy it there (deploy-environment verifies "
            "every deploy), and approve it once it passes"
        )
    for kind, entry in wanted.items():
        if not entry.passed:
            raise NotVerifiedError(f"{what}: its last verification in {stage} ({kind}) failed: {entry.comment}")
        expected = deployed_digests(release, environment_kinds.kind(kind))
        if entry.digests != expected:
            differ = sorted(n for n in set(expected) | set(entry.digests) if expected.get(n) != entry.digests.get(n))
            raise NotVerifiedError(
                f"{what}: its verification in {stage} ({kind}) was of other digests ({', '.join(differ)}); "
                "deploy exactly this release there again"
            )
    return list(wanted.values())


def failure_message(release_id: str, stage: str, kind: str, summary: str, after: str) -> str:
    """The one line a failed verification fails its run with: the failed check, then what happened next."""
    failed = summary.removeprefix("verification failed: ")
    return f"{release_id} failed its verification in {stage} ({kind}): {failed}; {after}"
