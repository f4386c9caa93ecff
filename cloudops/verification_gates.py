"""What a deploy's verification lets happen next: only a release its stage verified, for exactly the digests it
runs there, is offered for approval there and promoted out of there. Pure functions over the audit trail."""

from __future__ import annotations

from collections.abc import Sequence

from cloudops import environment_kinds
from cloudops.audit import AuditEntry, VerificationEntry, deployed_digests
from cloudops.errors import CloudOpsError
from cloudops.release import Release


class VerificationFailedError(CloudOpsError):
    """A deploy whose verification failed; the message names the failed check and what the rollback did."""


class NotVerifiedError(CloudOpsError):
    """An approval or a promotion of a release that its stage has not verified (or verified for other digests)."""


def latest_verifications(trail: Sequence[AuditEntry], version: str, stage: str) -> dict[str, VerificationEntry]:
    """The last verification of ``version`` in ``stage``, by environment kind."""
    found: dict[str, VerificationEntry] = {}
    for entry in trail:
        if isinstance(entry, VerificationEntry) and entry.version == version and entry.stage == stage:
            found[entry.deploy_kind] = entry
    return found


def require_verified(
    trail: Sequence[AuditEntry], release: Release, stage: str, doing: str, kind_name: str | None = None
) -> list[VerificationEntry]:
    """The verifications that let ``release`` go on from ``stage`` (of ``kind_name``, or of every kind deployed
    there), or a :class:`NotVerifiedError` starting with ``doing`` (e.g. "cannot be approved in qa")."""
    latest = latest_verifications(trail, release.version, stage)
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


def held_back_from_rollback(stage: str, asked: bool, stage_allows: bool) -> str | None:
    """Why a failed verification in ``stage`` is not rolled back, or None when it is: ``asked`` is the deploy's own
    ``auto_rollback`` (off for a rollback's deploy: rolling back a rollback could go on for ever), ``stage_allows``
    the stage's ``auto_rollback`` in cloudops.toml."""
    if not asked:
        return "not rolled back (this deploy is a rollback's, or auto_rollback was turned off for it)"
    if not stage_allows:
        return f"not rolled back ({stage} has auto_rollback = false): it stays as it is"
    return None
