"""Reading the build account's records from a flow: a release record and the audit trail, under the retry policy."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from blocks.pipeline import StageTarget
from cloudops import audit, release_records
from cloudops.aws import s3
from cloudops.release import Release
from cloudops.trail import Trail
from tasks.retry import AWS_RETRIES


def lock_for(build: StageTarget, stage: str) -> s3.ObjectLock | None:
    """The Object Lock retention of a record about ``stage`` (none when the build bucket has no Object Lock)."""
    if not s3.object_lock_enabled(build.account.session(), build.bucket):
        return None
    lock = build.record_locks.get(stage, build.config.record_lock)
    return s3.ObjectLock.for_days(lock.mode, lock.days)


@task(name="load-release", task_run_name="load-release-{version}", cache_policy=NO_CACHE, **AWS_RETRIES)
def read_release(build: StageTarget, application: str, version: str) -> Release:
    """The release record ``version`` (``latest`` for the newest) from the build account's bucket, checked against
    the audit entry that vouches for it (a record changed since is refused)."""
    return release_records.load_checked(build.account.session(), build.bucket, application, version)


@task(name="read-audit-trail", cache_policy=NO_CACHE, **AWS_RETRIES)
def read_trail(build: StageTarget, application: str, version: str | None = None) -> Trail:
    """The audit trail, oldest first (of one release when ``version`` is given)."""
    return Trail(audit.entries(build.account.session(), build.bucket, application, version))


@task(name="record-audit-entry", cache_policy=NO_CACHE, **AWS_RETRIES)
def record(build: StageTarget, entry: audit.AuditEntry) -> str:
    """Append ``entry`` to the trail, locked for its stage's retention; its key."""
    return audit.record(build.account.session(), build.bucket, entry, lock_for(build, entry.stage))


@task(name="save-release", cache_policy=NO_CACHE, **AWS_RETRIES)
def save_release_record(build: StageTarget, release: Release) -> str:
    """Write the release record to the build account's bucket once, locked, and vouch for it in the audit trail
    (``latest`` names it too); its location."""
    uri, _ = release_records.record_release(
        build.account.session(), build.bucket, build.name, release, lock_for(build, build.name)
    )
    return uri
