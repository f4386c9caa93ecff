"""Release records kept tamper-evident: each written once, locked (S3 Object Lock), its SHA-256 in the audit trail,
and checked against it on every read.

A record is written by the build-release run that first builds its version; a later run of the same version
keeps it (its digests must be the same). ``latest.json`` only points at a version: it is rewritten by every
build, and a read of ``latest`` follows it to that version's record, which is checked.
"""

from __future__ import annotations

import hashlib

from cloudops import audit
from cloudops.aws import s3
from cloudops.aws.session import AccountSession
from cloudops.errors import CloudOpsError, TamperedRecordError
from cloudops.release import LATEST, Release, release_key


def record_entry(release: Release, stage: str, body: bytes) -> audit.AuditEntry:
    """The audit entry that vouches for a release record: the SHA-256 of its body, the release's digests."""
    return audit.ReleaseEntry(
        application=release.application,
        version=release.version,
        stage=stage,
        actor=f"flow-run:{release.flow_run_id}" if release.flow_run_id else "build-release",
        digests={name: image.digest for name, image in release.images.items()},
        record_sha256=hashlib.sha256(body).hexdigest(),
        commit=release.commit,
        flow_run_id=release.flow_run_id,
    )


def record_release(
    account: AccountSession, bucket: str, stage: str, release: Release, lock: s3.ObjectLock | None
) -> tuple[str, bool]:
    """Write ``release``'s record unless its version has one, and vouch for it in the trail; its URI, and whether
    it was written now. A version recorded with other digests is refused: a version's record never changes."""
    key = release_key(release.application, release.version)
    body = release.model_dump_json(indent=2).encode()
    written = s3.put_new_object(account, bucket, key, body, "application/json", lock)
    if not written:
        body = s3.get_object(account, bucket, key)
        kept = Release.model_validate_json(body)
        if _essence(kept) != _essence(release):
            raise CloudOpsError(
                f"release {release.id} is recorded already (s3://{bucket}/{key}) with other digests; a version's "
                "record never changes: build another commit, or find why the same commit built other images"
            )
    trail = audit.entries(account, bucket, release.application, release.version)
    if not any(e.kind == "release" for e in trail):
        _check_single_version(account, bucket, key)  # a record nobody vouched for yet (the run stopped in between)
        audit.record(account, bucket, record_entry(release, stage, body), lock)
    s3.put_object(account, bucket, release_key(release.application, LATEST), body, "application/json")
    return f"s3://{bucket}/{key}", written


def load_checked(account: AccountSession, bucket: str, application: str, version: str) -> Release:
    """The release record of ``version`` (``latest``: the version it points at), checked against the audit entry
    that vouches for it; a record changed since is refused (:class:`TamperedRecordError`)."""
    if version == LATEST:
        version = Release.model_validate_json(s3.get_object(account, bucket, release_key(application, LATEST))).version
    key = release_key(application, version)
    body = s3.get_object(account, bucket, key)
    trail = audit.entries(account, bucket, application, version)
    vouched = [e for e in trail if isinstance(e, audit.ReleaseEntry)]
    if vouched:
        expected = vouched[-1].record_sha256
        actual = hashlib.sha256(body).hexdigest()
        if actual != expected:
            raise TamperedRecordError(
                f"release record s3://{bucket}/{key} was changed after build-release recorded it (its SHA-256 is "
                f"{actual[:12]}, the audit entry of {vouched[-1].at:%Y-%m-%d %H:%M} says {expected[:12]}); it is "
                "refused and nothing was done: find who changed it in CloudTrail, then restore its first version"
            )
    _check_single_version(account, bucket, key)
    return Release.model_validate_json(body)


def _check_single_version(account: AccountSession, bucket: str, key: str) -> None:
    found = s3.key_versions(account, bucket, key).get(key)
    if found is not None and (found.deleted or len(found.versions) > 1):
        raise TamperedRecordError(
            f"release record s3://{bucket}/{key} was {'deleted' if found.deleted else 'overwritten'} after it was "
            f"written ({len(found.versions)} versions); it is refused and nothing was done: find who did it in "
            "CloudTrail, then restore its first version"
        )


def _essence(release: Release) -> tuple[object, ...]:
    """What a record of a version must keep: its commit, package and digests (not whether a run rebuilt them)."""
    return (
        release.commit,
        release.package_digest,
        {n: i.digest for n, i in release.images.items()},
        {e: s.identifier for e, s in release.snapshots.items()},
    )
