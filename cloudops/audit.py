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
from cloudops.errors import AwsError

Kind = Literal["approval", "promotion", "deploy", "rollback", "teardown"]
# Objects read at once when a trail is read (S3 answers each GET on its own).
READERS = 8
Decision = Literal["approved", "rejected", "timed-out"]


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


def prefix(application: str) -> str:
    return f"audit/{application}/"


def record(account: AccountSession, bucket: str, entry: AuditEntry) -> str:
    """Append ``entry``; its key."""
    key = (
        f"{prefix(entry.application)}{entry.at:%Y/%m/%d/%H%M%S.%f}-{entry.kind}-{uuid.uuid4().hex[:8]}"
        f"@{entry.version}.json"
    )
    body = entry.model_dump_json().encode()
    if not s3.put_new_object(account, bucket, key, body, "application/json") and (
        s3.get_object(account, bucket, key) != body
    ):
        # The key holds a random id: an object already there is this very entry (the client retried a put whose
        # answer was lost), unless the ids collided. The trail never overwrites either.
        raise AwsError(f"audit entry s3://{bucket}/{key} is another entry's key; record the entry again (a new key)")
    return key


def version_in(key: str) -> str | None:
    """The release version in an entry's key; None for an entry written before keys named it."""
    name = key.rsplit("/", 1)[-1].removesuffix(".json")
    return name.rsplit("@", 1)[1] if "@" in name else None


# Entries already read, by bucket and key: an entry is never rewritten, and its key is unique (a random id).
_read: dict[tuple[str, str], AuditEntry] = {}
_reading = threading.Lock()


def entries(account: AccountSession, bucket: str, application: str, version: str | None = None) -> list[AuditEntry]:
    """The trail, oldest first (optionally of one release: only its entries are read)."""
    keys = sorted(s3.list_keys(account, bucket, prefix(application)))
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
