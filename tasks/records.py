"""Reading the build account's records from a flow: a release record and the audit trail, under the retry policy."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from blocks.pipeline import StageTarget
from cloudops import audit
from cloudops.release import Release, load_release, save_release
from tasks.retry import AWS_RETRIES


@task(name="load-release", task_run_name="load-release-{version}", cache_policy=NO_CACHE, **AWS_RETRIES)
def read_release(build: StageTarget, application: str, version: str) -> Release:
    """The release record ``version`` (``latest`` for the newest) from the build account's bucket."""
    return load_release(build.account.session(), build.bucket, application, version)


@task(name="read-audit-trail", cache_policy=NO_CACHE, **AWS_RETRIES)
def read_trail(build: StageTarget, application: str, version: str | None = None) -> list[audit.AuditEntry]:
    """The audit trail, oldest first (of one release when ``version`` is given)."""
    return audit.entries(build.account.session(), build.bucket, application, version)


@task(name="record-audit-entry", cache_policy=NO_CACHE, **AWS_RETRIES)
def record(build: StageTarget, entry: audit.AuditEntry) -> str:
    """Append ``entry`` to the trail; its key."""
    return audit.record(build.account.session(), build.bucket, entry)


@task(name="save-release", cache_policy=NO_CACHE, **AWS_RETRIES)
def save_release_record(build: StageTarget, release: Release) -> str:
    """Write the release record to the build account's bucket (``latest`` names it too); its location."""
    return save_release(build.account.session(), build.bucket, release)
