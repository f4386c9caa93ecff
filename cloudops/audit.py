"""The audit trail: approvals and promotions, append-only, in the build account's bucket.

Each entry is its own object under ``audit/<application>/``, named by time, kind, a random id and the release
version (``2026/11/27/142803.123456-approval-1a2b3c4d@<version>.json``) and written only when absent, so
nothing is ever overwritten or rewritten. A release's entries are found from the key listing alone, and an
entry read once is not read again in the same process.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cloudops.aws import s3
from cloudops.aws.session import AccountSession
from cloudops.environment_kinds import EnvironmentKind
from cloudops.errors import AwsError, TamperedRecordError
from cloudops.release import Release

Kind = Literal["release", "approval", "promotion", "deploy", "rollback", "teardown", "verification"]
# Keys of an entry's detail that say which environment kind it is about and which release it replaced.
DEPLOY_KIND = "deploy_kind"
IDENTITY = "identity"  # an approval's verified AWS ARN
FROM = "from"
# Objects read at once when a trail is read (S3 answers each GET on its own).
READERS = 8
Decision = Literal["approved", "rejected", "timed-out"]
# A verification entry's detail[OUTCOME].
OUTCOME = "outcome"
VERIFIED = "verified"
VERIFICATION_FAILED = "verification-failed"


class CheckRecord(BaseModel):
    """One check of a deploy's verification, as the trail keeps it."""

    model_config = ConfigDict(frozen=True)

    name: str
    passed: bool
    detail: str
    at: datetime


class AuditEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Kind
    application: str
    version: str
    stage: str
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    actor: str
    digests: dict[str, str]
    decision: Decision | None = None
    ticket: str = ""
    comment: str = ""
    detail: dict[str, str] = Field(default_factory=dict)
    flow_run_id: str | None = None
    checks: tuple[CheckRecord, ...] = ()  # a verification's checks; none in the other kinds (and older entries)


def prefix(application: str) -> str:
    return f"audit/{application}/"


def record(account: AccountSession, bucket: str, entry: AuditEntry, lock: s3.ObjectLock | None = None) -> str:
    """Append ``entry``, locked with ``lock`` (S3 Object Lock) when given; its key."""
    key = (
        f"{prefix(entry.application)}{entry.at:%Y/%m/%d/%H%M%S.%f}-{entry.kind}-{uuid.uuid4().hex[:8]}"
        f"@{entry.version}.json"
    )
    body = entry.model_dump_json().encode()
    if not s3.put_new_object(account, bucket, key, body, "application/json", lock) and (
        s3.get_object(account, bucket, key) != body
    ):
        # The key holds a random id: an object already there is this very entry (the client retried a put whose
        # answer was lost), unless the ids collided. The trail never overwrites either.
        raise AwsError(f"audit entry s3://{bucket}/{key} is another entry's key; record the entry again (a new key)")
    return key


def check_untouched(bucket: str, listing: dict[str, s3.KeyVersions]) -> None:
    """Refuse a trail in which an entry was overwritten or deleted after it was written."""
    changed = sorted(key for key, found in listing.items() if found.deleted or len(found.versions) > 1)
    if not changed:
        return
    first = listing[changed[0]]
    what = "deleted" if first.deleted else f"overwritten ({len(first.versions)} versions)"
    raise TamperedRecordError(
        f"audit entry s3://{bucket}/{changed[0]} was {what} after it was written"
        + (f", and {len(changed) - 1} more entries" if len(changed) > 1 else "")
        + "; the trail is refused, nothing was done: find who did it in CloudTrail, then restore the entry's "
        "first version (delete the later versions or the delete marker)"
    )


def version_in(key: str) -> str | None:
    """The release version in an entry's key; None for an entry written before keys named it."""
    name = key.rsplit("/", 1)[-1].removesuffix(".json")
    return name.rsplit("@", 1)[1] if "@" in name else None


# Entries already read, by bucket and key: an entry is never rewritten, and its key is unique (a random id).
_read: dict[tuple[str, str], AuditEntry] = {}
_reading = threading.Lock()


def entries(account: AccountSession, bucket: str, application: str, version: str | None = None) -> list[AuditEntry]:
    """The trail, oldest first (optionally of one release: only its entries are read).

    An entry is written once and never changed: a key with a second version, or deleted (a delete marker), was
    tampered with, and the trail is refused (:class:`TamperedRecordError`) rather than read as it now is.
    """
    listing = s3.key_versions(account, bucket, prefix(application))
    check_untouched(bucket, listing)
    keys = sorted(listing)
    if version is not None:
        keys = [key for key in keys if version_in(key) in (version, None)]
    with _reading:
        missing = [key for key in keys if (bucket, key) not in _read]
    if missing:
        with ThreadPoolExecutor(max_workers=READERS) as pool:
            bodies = list(pool.map(lambda key: s3.get_object(account, bucket, key), missing))
        with _reading:
            for key, body in zip(missing, bodies, strict=True):
                _read[(bucket, key)] = AuditEntry.model_validate_json(body)
    with _reading:
        found = [_read[(bucket, key)] for key in keys]
    return [e for e in found if version is None or e.version == version]


def latest_approval(trail: list[AuditEntry], version: str, stage: str) -> AuditEntry | None:
    """The last approval decision recorded for ``version`` in ``stage``."""
    decisions = [e for e in trail if e.kind == "approval" and e.version == version and e.stage == stage]
    return decisions[-1] if decisions else None


# One factory per kind of entry: each says what that kind records, so no flow assembles an entry itself.


def approval_entry(
    release: Release,
    stage: str,
    digests: dict[str, str],
    decision: Decision,
    actor: str,
    *,
    ticket: str = "",
    comment: str = "",
    flow_run_id: str | None = None,
    identity: str = "",
) -> AuditEntry:
    """A person's decision on ``release`` in ``stage`` (or the time running out), for exactly ``digests``;
    ``identity``: the approver's AWS ARN, as STS verified it (none when the answer carried no proof)."""
    return AuditEntry(
        kind="approval",
        application=release.application,
        version=release.version,
        stage=stage,
        actor=actor,
        digests=digests,
        decision=decision,
        ticket=ticket,
        comment=comment,
        flow_run_id=flow_run_id,
        detail={IDENTITY: identity} if identity else {},
    )


def promotion_entry(
    release: Release,
    from_stage: str,
    to_stage: str,
    digests: dict[str, str],
    *,
    approved_by: str,
    snapshots: list[str],
    copied: dict[str, str],
    flow_run_id: str | None,
) -> AuditEntry:
    """A promotion's record: the digests copied into ``to_stage``, on whose approval, what it copied."""
    return AuditEntry(
        kind="promotion",
        application=release.application,
        version=release.version,
        stage=to_stage,
        actor=f"flow-run:{flow_run_id}",
        digests=digests,
        flow_run_id=flow_run_id,
        detail={"from": from_stage, "approved_by": approved_by, "snapshots": ", ".join(snapshots), **copied},
    )


def deployed_digests(release: Release, kind: EnvironmentKind) -> dict[str, str]:
    """The digests of the images an environment of ``kind`` runs, by image name."""
    return {
        name: release.images[name].digest for name in kind.image_names(release.image_roles) if name in release.images
    }


def deploy_entry(
    release: Release, stage: str, kind: EnvironmentKind, changed: dict[str, bool], actor: str, flow_run_id: str | None
) -> AuditEntry:
    """A finished deploy's record: what went where (digests, snapshots), and which stacks changed."""
    snapshots = [release.snapshots[env] for env in kind.snapshots if env in release.snapshots]
    return AuditEntry(
        kind="deploy",
        application=release.application,
        version=release.version,
        stage=stage,
        actor=actor,
        digests=deployed_digests(release, kind),
        flow_run_id=flow_run_id,
        detail={
            DEPLOY_KIND: kind.name,
            "snapshots": ", ".join(s.identifier for s in snapshots),
            "stacks": stacks_detail(changed),
        },
    )


def latest_verification(trail: list[AuditEntry], version: str, stage: str, kind_name: str) -> AuditEntry | None:
    """The last verification recorded for ``version`` in ``stage``'s environment of kind ``kind_name``."""
    found = [
        e
        for e in trail
        if e.kind == "verification"
        and e.version == version
        and e.stage == stage
        and e.detail.get(DEPLOY_KIND) == kind_name
    ]
    return found[-1] if found else None


def is_verified(entry: AuditEntry | None, digests: dict[str, str]) -> bool:
    """Whether ``entry`` is a passed verification of exactly ``digests``."""
    return (
        entry is not None
        and entry.kind == "verification"
        and entry.detail.get(OUTCOME) == VERIFIED
        and entry.digests == digests
    )


def teardown_entry(
    application: str, stage: str, kind: str, deleted: list[str], actor: str, flow_run_id: str | None
) -> AuditEntry:
    """A teardown's record: the environment of ``kind`` in ``stage`` is gone."""
    return AuditEntry(
        kind="teardown",
        application=application,
        version="-",
        stage=stage,
        actor=actor,
        digests={},
        flow_run_id=flow_run_id,
        detail={DEPLOY_KIND: kind, "stacks": ", ".join(deleted)},
    )


def rollback_entry(
    release: Release,
    stage: str,
    kind: EnvironmentKind,
    rolled_back_from: tuple[str, dict[str, str]],
    changed: dict[str, bool],
    *,
    actor: str,
    reason: str,
    flow_run_id: str | None,
) -> AuditEntry:
    """A rollback's record: ``stage`` (its ``kind``) back on ``release`` from (version, digests), each stack
    changed or not, who asked and why."""
    version, from_digests = rolled_back_from
    return AuditEntry(
        kind="rollback",
        application=release.application,
        version=release.version,
        stage=stage,
        actor=actor,
        digests=deployed_digests(release, kind),
        comment=reason,
        flow_run_id=flow_run_id,
        detail={
            DEPLOY_KIND: kind.name,
            FROM: version,
            "from_digests": ", ".join(f"{n}={d}" for n, d in from_digests.items()),
            "stacks": stacks_detail(changed),
        },
    )


def stacks_detail(changed: dict[str, bool]) -> str:
    """Each stack of a deploy and whether it changed, as the trail keeps it."""
    return ", ".join(f"{stack}={'changed' if was else 'unchanged'}" for stack, was in changed.items())
