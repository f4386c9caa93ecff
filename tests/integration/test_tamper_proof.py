"""Tamper-proof records: the build bucket keeps release records and audit entries under S3 Object Lock, each
release record vouched for by an audit entry holding its SHA-256; a changed record is refused by whoever reads it."""

from __future__ import annotations

import hashlib

import pytest
from botocore.exceptions import ClientError
from typer.testing import CliRunner

from blocks.pipeline import resolve_stage
from cloudops import audit, release_records
from cloudops.aws import s3
from cloudops.errors import TamperedRecordError
from cloudops.release import Release, release_key
from sandbox.sandbox import Sandbox
from tests.app_source import ReleaseSource
from tests.ops_helpers import BUILD_BUCKET, OpsApp

pytestmark = pytest.mark.slow


def lock_of(sandbox: Sandbox, key: str) -> tuple[str | None, str]:
    """The Object Lock mode of the object at ``key`` and its first version's id."""
    client = sandbox.account("build").client("s3")
    head = client.head_object(Bucket=BUILD_BUCKET, Key=key)
    return head.get("ObjectLockMode"), head["VersionId"]


def delete_refused(sandbox: Sandbox, key: str, version_id: str) -> str:
    """The error S3 gives a delete of ``key``'s version ``version_id``."""
    client = sandbox.account("build").client("s3")
    with pytest.raises(ClientError) as refused:
        client.delete_object(Bucket=BUILD_BUCKET, Key=key, VersionId=version_id)
    return str(refused.value.response["Error"]["Code"])


@pytest.mark.reliability(
    "fault", "a locked release record or audit entry deleted by version", "S3 refuses (Object Lock): AccessDenied"
)
def test_the_build_bucket_locks_its_records_for_each_stage(
    sandbox: Sandbox, release_env: ReleaseSource, release: Release
) -> None:
    from tasks.records import record

    build = sandbox.account("build")
    assert s3.object_lock_enabled(build, BUILD_BUCKET)
    key = release_key(release.application, release.version)
    mode, version_id = lock_of(sandbox, key)
    assert mode == "GOVERNANCE"  # the build stage's retention
    trail = audit.entries(build, BUILD_BUCKET, release.application, release.version)
    vouching = [e for e in trail if isinstance(e, audit.ReleaseEntry)]
    assert len(vouching) == 1  # however many times the release was built
    body = s3.get_object(build, BUILD_BUCKET, key)
    assert vouching[0].record_sha256 == hashlib.sha256(body).hexdigest()
    assert delete_refused(sandbox, key, version_id) == "AccessDenied"

    # prod's entries are kept in compliance mode, the other stages' in governance mode
    target = resolve_stage(release_env.settings, "build")
    entry = audit.TeardownEntry(application="lock-probe", version="0", stage="prod", actor="test", deploy_kind="-")
    prod_key = record.fn(target, entry)
    prod_mode, prod_version = lock_of(sandbox, prod_key)
    assert prod_mode == "COMPLIANCE"
    assert delete_refused(sandbox, prod_key, prod_version) == "AccessDenied"
    qa_key = record.fn(target, entry.model_copy(update={"stage": "qa"}))
    assert lock_of(sandbox, qa_key)[0] == "GOVERNANCE"


@pytest.mark.reliability(
    "fault",
    "a release record overwritten with a plain put_object (a changed digest)",
    "promotion refuses it, naming the record and the audit entry that vouches for it; nothing is copied",
)
@pytest.mark.reliability(
    "fault",
    "an audit entry overwritten or deleted",
    "`cloudops status` and every flow reading the trail refuse it in one line naming the entry",
)
def test_a_changed_release_record_or_audit_entry_is_refused(sandbox: Sandbox, app: OpsApp) -> None:
    from cli.main import app as cli
    from flows.promote import promote
    from tasks.records import lock_for

    build = sandbox.account("build")
    target = resolve_stage(app.settings, "build")
    fresh = app.releases[0].model_copy(update={"version": f"{app.releases[0].version}-vouched"})
    uri, written = release_records.record_release(build, BUILD_BUCKET, "build", fresh, lock_for(target, "build"))
    assert written and uri.endswith(f"{fresh.version}.json")
    again = release_records.record_release(build, BUILD_BUCKET, "build", fresh, None)
    assert again == (uri, False)  # a version's record is written once
    assert release_records.load_checked(build, BUILD_BUCKET, app.name, "latest") == fresh

    # When someone overwrites the record with another app digest (a new version of the object)
    key = release_key(app.name, fresh.version)
    forged = fresh.model_copy(
        update={
            "images": {**fresh.images, "app": fresh.images["app"].model_copy(update={"digest": "sha256:" + "6" * 64})}
        }
    )
    build.client("s3").put_object(Bucket=BUILD_BUCKET, Key=key, Body=forged.model_dump_json(indent=2).encode())
    # Then the promotion refuses it, and copies and records nothing
    with pytest.raises(TamperedRecordError, match=rf"release record s3://{BUILD_BUCKET}/{key} was changed after"):
        promote(version=fresh.version, to_stage="qa")
    assert [e.kind for e in app.trail()] == ["release"]

    # When someone overwrites an audit entry, the trail is refused: status says so in one line
    (entry_key,) = [k for k in s3.list_keys(build, BUILD_BUCKET, audit.prefix(app.name))]
    build.client("s3").put_object(Bucket=BUILD_BUCKET, Key=entry_key, Body=b"{}")
    shown = CliRunner().invoke(cli, ["status"])
    assert shown.exit_code == 1
    (line,) = shown.output.strip().splitlines()
    assert line.startswith(f"error: audit entry s3://{BUILD_BUCKET}/{entry_key} was overwritten (2 versions)")
