"""The audit trail in the sandbox's build bucket: a release's entries read from the key listing alone."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from cloudops import audit
from cloudops.errors import AwsError
from cloudops.settings import Settings
from sandbox.sandbox import Sandbox

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def entry(application: str, version: str, minute: int, kind: audit.Kind = "promotion") -> audit.AuditEntry:
    """An entry of ``kind`` (promotion, approval or deploy) with what that kind records."""
    of_kind = {
        "promotion": {"from_stage": "build", "approved_by": "(from the build stage)"},
        "approval": {"decision": "approved"},
        "deploy": {"deploy_kind": "author-live"},
    }
    fields = {
        "kind": kind,
        "application": application,
        "version": version,
        "stage": "qa",
        "at": T0 + timedelta(minutes=minute),
        "actor": "flow-run:test",
        "digests": {"app": "sha256:" + "a" * 64},
        **of_kind[kind],
    }
    return audit.ENTRY.validate_python(fields)


def test_a_releases_entries_are_read_without_reading_the_others(moto_sandbox: Sandbox, settings: Settings) -> None:
    account = moto_sandbox.account("build")
    bucket = settings.stage("build").bucket
    application = f"audit-{uuid.uuid4().hex[:8]}"
    first = entry(application, "1.0", 1)
    second = entry(application, "2.0", 2, kind="approval")
    third = entry(application, "1.0", 3, kind="deploy")
    keys = [audit.record(account, bucket, e) for e in (third, first, second)]
    assert all(audit.version_in(key) in ("1.0", "2.0") for key in keys)
    # An entry written before keys named the version is read to learn its version
    legacy = entry(application, "1.0", 0, kind="approval")
    legacy_key = f"{audit.prefix(application)}{legacy.at:%Y/%m/%d/%H%M%S.%f}-approval-0badc0de.json"
    account.client("s3").put_object(Bucket=bucket, Key=legacy_key, Body=legacy.model_dump_json().encode())
    # Another release's object that cannot be read as an entry: reading release 1.0 must not touch it
    broken = f"{audit.prefix(application)}{T0:%Y/%m/%d}/235959.000000-deploy-deadbeef@3.0.json"
    account.client("s3").put_object(Bucket=bucket, Key=broken, Body=b"not json")

    found = audit.entries(account, bucket, application, "1.0")

    assert found == [legacy, first, third]  # oldest first, only 1.0's
    assert audit.version_in(legacy_key) is None
    with pytest.raises(ValueError, match="Invalid JSON"):
        audit.entries(account, bucket, application)  # the whole trail does read it


def test_a_missing_bucket_is_a_clear_error(moto_sandbox: Sandbox) -> None:
    with pytest.raises(AwsError, match="bucket no-such-bucket-cloudops does not exist in account 111111111111"):
        audit.entries(moto_sandbox.account("build"), "no-such-bucket-cloudops", "commerce", "1.0")
