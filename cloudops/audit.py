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
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from cloudops.aws import s3
from cloudops.aws.session import AccountSession
from cloudops.environment_kinds import EnvironmentKind
from cloudops.errors import AwsError, TamperedRecordError
from cloudops.release import Release

Kind = Literal["release", "approval", "promotion", "deploy", "rollback", "teardown", "verification"]
# Objects read at once when a trail is read (S3 answers each GET on its own).
READERS = 8
Decision = Literal["approved", "rejected", "timed-out"]
Outcome = Literal["verified", "verification-failed"]
VERIFIED: Outcome = "verified"
VERIFICATION_FAILED: Outcome = "verification-failed"


class CheckRecord(BaseModel):
    """One check of a deploy's verification, as the trail keeps it."""

    model_config = ConfigDict(frozen=True)

    name: str
    passed: bool
    detail: str
    at: datetime


class EntryBase(BaseModel):
    """What every entry of the trail says: about which release, in which stage, when, by whom, for which digests.

    Entries written before the trail was typed (up to 2026-12-07) kept what their kind records as strings in a map
    ``detail`` (``"app=3 broker=0"``, ``"a=changed, b=unchanged"``); each kind reads them into its typed fields
    (:meth:`from_detail`), so a trail already written reads as one written today."""

    model_config = ConfigDict(frozen=True)

    application: str
    version: str
    stage: str
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    actor: str
    digests: dict[str, str] = Field(default_factory=dict)
    comment: str = ""
    flow_run_id: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _written_before_typing(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("detail"), dict):
            fields = {key: value for key, value in data.items() if key != "detail"}
            return fields | cls.from_detail(data["detail"])
        return data

    @classmethod
    def from_detail(cls, detail: dict[str, str]) -> dict[str, Any]:
        """This kind's typed fields from an old entry's ``detail`` (its other keys, as ``decision``, are fields
        already; those a kind does not have are left out when it is read)."""
        return {}


class ReleaseEntry(EntryBase):
    """A release record written, vouched for: its body's SHA-256 and the commit it was built from."""

    kind: Literal["release"] = "release"
    record_sha256: str
    commit: str = ""

    @classmethod
    def from_detail(cls, detail: dict[str, str]) -> dict[str, Any]:
        return {"record_sha256": detail.get("record_sha256", ""), "commit": detail.get("commit", "")}


class ApprovalEntry(EntryBase):
    """A person's decision on a release in a stage (or the time running out), for exactly its digests."""

    kind: Literal["approval"] = "approval"
    decision: Decision
    ticket: str = ""
    identity: str = ""  # the approver's AWS ARN as STS verified it; empty when the answer carried no proof

    @classmethod
    def from_detail(cls, detail: dict[str, str]) -> dict[str, Any]:
        return {"identity": detail.get("identity", "")}


class PromotionEntry(EntryBase):
    """A promotion: the digests copied into ``stage`` from ``from_stage``, on whose approval, what it copied."""

    kind: Literal["promotion"] = "promotion"
    from_stage: str
    approved_by: str
    snapshots: tuple[str, ...] = ()
    blobs_copied: dict[str, int] = Field(default_factory=dict)  # per image: copied now
    blobs_present: dict[str, int] = Field(default_factory=dict)  # per image: there already, or mounted

    @property
    def blobs_copied_total(self) -> int:
        return sum(self.blobs_copied.values())

    @classmethod
    def from_detail(cls, detail: dict[str, str]) -> dict[str, Any]:
        return {
            "from_stage": detail.get("from", ""),
            "approved_by": detail.get("approved_by", ""),
            "snapshots": _listed(detail.get("snapshots", "")),
            "blobs_copied": _counts(detail.get("blobs_copied", "")),
            "blobs_present": _counts(detail.get("blobs_present", "")),
        }


class DeployEntry(EntryBase):
    """A finished deploy: what went where (digests, snapshots) as which kind, and which stacks changed."""

    kind: Literal["deploy"] = "deploy"
    deploy_kind: str = ""  # none in the deploys recorded before kinds of environment were
    snapshots: tuple[str, ...] = ()
    stacks: dict[str, bool] = Field(default_factory=dict)  # each stack: changed or not

    @classmethod
    def from_detail(cls, detail: dict[str, str]) -> dict[str, Any]:
        return {
            "deploy_kind": detail.get("deploy_kind", ""),
            "snapshots": _listed(detail.get("snapshots", "")),
            "stacks": _changed(detail.get("stacks", "")),
        }


class VerificationEntry(EntryBase):
    """A deploy's verification: every check it ran, and whether the deployed digests passed them (``comment``: its
    summary)."""

    kind: Literal["verification"] = "verification"
    deploy_kind: str
    outcome: Outcome
    started_at: datetime | None = None
    checks: tuple[CheckRecord, ...] = ()

    @property
    def passed(self) -> bool:
        return self.outcome == VERIFIED

    @classmethod
    def from_detail(cls, detail: dict[str, str]) -> dict[str, Any]:
        return {
            "deploy_kind": detail.get("deploy_kind", ""),
            "outcome": detail.get("outcome", VERIFICATION_FAILED),
            "started_at": detail.get("started_at") or None,
        }


class RollbackEntry(EntryBase):
    """A rollback: ``stage`` (its ``deploy_kind``) back on this release from ``rolled_back_from`` (its digests),
    each stack changed or not; ``comment``: who asked and why."""

    kind: Literal["rollback"] = "rollback"
    deploy_kind: str
    rolled_back_from: str
    from_digests: dict[str, str] = Field(default_factory=dict)
    stacks: dict[str, bool] = Field(default_factory=dict)

    @classmethod
    def from_detail(cls, detail: dict[str, str]) -> dict[str, Any]:
        return {
            "deploy_kind": detail.get("deploy_kind", ""),
            "rolled_back_from": detail.get("from", ""),
            "from_digests": dict(_pairs(detail.get("from_digests", ""), ", ")),
            "stacks": _changed(detail.get("stacks", "")),
        }


class TeardownEntry(EntryBase):
    """A teardown: the environment of ``deploy_kind`` in ``stage`` is gone (its stacks deleted)."""

    kind: Literal["teardown"] = "teardown"
    deploy_kind: str
    stacks: tuple[str, ...] = ()

    @classmethod
    def from_detail(cls, detail: dict[str, str]) -> dict[str, Any]:
        return {"deploy_kind": detail.get("deploy_kind", ""), "stacks": _listed(detail.get("stacks", ""))}


AuditEntry = Annotated[
    ReleaseEntry | ApprovalEntry | PromotionEntry | DeployEntry | VerificationEntry | RollbackEntry | TeardownEntry,
    Field(discriminator="kind"),
]
ENTRY = TypeAdapter[AuditEntry](AuditEntry)


def _listed(text: str) -> tuple[str, ...]:
    return tuple(item for item in text.split(", ") if item)


def _pairs(text: str, separator: str) -> list[tuple[str, str]]:
    return [(name, value) for item in text.split(separator) if "=" in item for name, value in [item.split("=", 1)]]


def _counts(text: str) -> dict[str, int]:
    return {name: int(value) for name, value in _pairs(text, " ")}


def _changed(text: str) -> dict[str, bool]:
    return {name: value == "changed" for name, value in _pairs(text, ", ")}


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
                _read[(bucket, key)] = ENTRY.validate_json(body)
    with _reading:
        found = [_read[(bucket, key)] for key in keys]
    return [e for e in found if version is None or e.version == version]


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
) -> ApprovalEntry:
    """A person's decision on ``release`` in ``stage`` (or the time running out), for exactly ``digests``;
    ``identity``: the approver's AWS ARN, as STS verified it (none when the answer carried no proof)."""
    return ApprovalEntry(
        application=release.application,
        version=release.version,
        stage=stage,
        actor=actor,
        digests=digests,
        decision=decision,
        ticket=ticket,
        comment=comment,
        flow_run_id=flow_run_id,
        identity=identity,
    )


def promotion_entry(
    release: Release,
    from_stage: str,
    to_stage: str,
    digests: dict[str, str],
    *,
    approved_by: str,
    snapshots: list[str],
    copied: tuple[dict[str, int], dict[str, int]],
    flow_run_id: str | None,
) -> PromotionEntry:
    """A promotion's record: the digests copied into ``to_stage``, on whose approval, what it copied (``copied``:
    per image, the blobs copied now and those there already)."""
    return PromotionEntry(
        application=release.application,
        version=release.version,
        stage=to_stage,
        actor=f"flow-run:{flow_run_id}",
        digests=digests,
        flow_run_id=flow_run_id,
        from_stage=from_stage,
        approved_by=approved_by,
        snapshots=tuple(snapshots),
        blobs_copied=copied[0],
        blobs_present=copied[1],
    )


def deployed_digests(release: Release, kind: EnvironmentKind) -> dict[str, str]:
    """The digests of the images an environment of ``kind`` runs, by image name."""
    return {
        name: release.images[name].digest for name in kind.image_names(release.image_roles) if name in release.images
    }


def deploy_entry(
    release: Release, stage: str, kind: EnvironmentKind, changed: dict[str, bool], actor: str, flow_run_id: str | None
) -> DeployEntry:
    """A finished deploy's record: what went where (digests, snapshots), and which stacks changed."""
    snapshots = [release.snapshots[env] for env in kind.snapshots if env in release.snapshots]
    return DeployEntry(
        application=release.application,
        version=release.version,
        stage=stage,
        actor=actor,
        digests=deployed_digests(release, kind),
        flow_run_id=flow_run_id,
        deploy_kind=kind.name,
        snapshots=tuple(s.identifier for s in snapshots),
        stacks=changed,
    )


def is_verified(entry: AuditEntry | None, digests: dict[str, str]) -> bool:
    """Whether ``entry`` is a passed verification of exactly ``digests``."""
    return isinstance(entry, VerificationEntry) and entry.passed and entry.digests == digests


def teardown_entry(
    application: str, stage: str, kind: str, deleted: list[str], actor: str, flow_run_id: str | None
) -> TeardownEntry:
    """A teardown's record: the environment of ``kind`` in ``stage`` is gone."""
    return TeardownEntry(
        application=application,
        version="-",
        stage=stage,
        actor=actor,
        flow_run_id=flow_run_id,
        deploy_kind=kind,
        stacks=tuple(deleted),
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
) -> RollbackEntry:
    """A rollback's record: ``stage`` (its ``kind``) back on ``release`` from (version, digests), each stack
    changed or not, who asked and why."""
    version, from_digests = rolled_back_from
    return RollbackEntry(
        application=release.application,
        version=release.version,
        stage=stage,
        actor=actor,
        digests=deployed_digests(release, kind),
        comment=reason,
        flow_run_id=flow_run_id,
        deploy_kind=kind.name,
        rolled_back_from=version,
        from_digests=from_digests,
        stacks=changed,
    )
