"""The audit trail: approvals and promotions, append-only, in the build account's bucket.

Each entry is its own object under ``audit/<application>/``, named by time and a random id and
written only when absent, so nothing is ever overwritten or rewritten.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cloudops.aws import s3
from cloudops.aws.session import AccountSession

Kind = Literal["approval", "promotion", "deploy", "rollback", "teardown"]
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
    key = f"{prefix(entry.application)}{entry.at:%Y/%m/%d/%H%M%S.%f}-{entry.kind}-{uuid.uuid4().hex[:8]}.json"
    account.client("s3").put_object(
        Bucket=bucket,
        Key=key,
        Body=entry.model_dump_json().encode(),
        ContentType="application/json",
        IfNoneMatch="*",
    )
    return key


def entries(account: AccountSession, bucket: str, application: str, version: str | None = None) -> list[AuditEntry]:
    """The trail, oldest first (optionally of one release)."""
    found = [
        AuditEntry.model_validate_json(s3.get_object(account, bucket, key))
        for key in sorted(s3.list_keys(account, bucket, prefix(application)))
    ]
    return [e for e in found if version is None or e.version == version]


def latest_approval(trail: list[AuditEntry], version: str, stage: str) -> AuditEntry | None:
    """The last approval decision recorded for ``version`` in ``stage``."""
    decisions = [e for e in trail if e.kind == "approval" and e.version == version and e.stage == stage]
    return decisions[-1] if decisions else None
