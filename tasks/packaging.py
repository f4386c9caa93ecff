"""Tasks of the package flow: find a package built before, or build and upload one."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from blocks.aws_account import AwsAccount
from cloudops import packaging
from cloudops.gitsource import SourceRevision, local_clone, resolve
from cloudops.settings import Application
from tasks.retry import AWS_RETRIES


@task(name="resolve-source", cache_policy=NO_CACHE)
def resolve_source(app: Application, ref: str, cache_dir: Path) -> SourceRevision:
    """The commit ``ref`` names in the application's repository (fetched first when remote)."""
    return resolve(local_clone(app.repository, cache_dir), ref)


@task(name="find-package", cache_policy=NO_CACHE, **AWS_RETRIES)
def find_package(account: AwsAccount, bucket: str, app: Application, commit: str) -> packaging.Package | None:
    return packaging.find_existing(account.session(), bucket, app, commit)


@task(name="package-in-s3", cache_policy=NO_CACHE, **AWS_RETRIES)
def package_in_s3(account: AwsAccount, package: packaging.Package) -> bool:
    """Whether the package's archive is (still) in S3: a cached build record is only as good as that."""
    return packaging.archive_exists(account.session(), package)


def _package_cache_key(context: Any, parameters: dict[str, Any]) -> str:
    return f"package-{parameters['bucket']}-{parameters['inputs_key']}"


@task(
    name="build-package",
    cache_key_fn=_package_cache_key,
    persist_result=True,
    **AWS_RETRIES,
)
def build_package(
    account: AwsAccount, bucket: str, app: Application, revision: SourceRevision, inputs_key: str
) -> packaging.Package:
    """Build the archive in a clean work folder and upload it (a package already in S3 is not uploaded)."""
    logger = get_run_logger()
    repository = Path(revision.repository)  # resolve-source's local clone of the application
    with tempfile.TemporaryDirectory(prefix="cloudops-package-") as workdir:
        archive = packaging.build_archive(app, repository, revision.commit, Path(workdir), log=logger.info)
        package = packaging.upload(account.session(), bucket, app, archive)
    logger.info(
        "package %s %s to %s",
        package.digest,
        "uploaded" if package.uploaded else "was in S3 already; not uploaded",
        package.uri,
    )
    return package
