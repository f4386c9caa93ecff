"""package (CloudTeam): build the deployment package of the application at a git ref, in the build account."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from cloudops import packaging, reports
from tasks.packaging import build_package, find_package, package_in_s3, resolve_source
from tasks.stages import open_pipeline

SOURCE_CACHE = Path.home() / ".cache" / "cloudops" / "sources"


@flow(name="package", log_prints=False)
def package(ref: str = "HEAD") -> packaging.Package:
    """Build the deployment package for ``ref`` and put it in the build account's bucket, once per commit.

    Args:
        ref: The git ref (branch, tag or commit) of the application's repository to package.
    """
    logger = get_run_logger()
    pipeline = open_pipeline()
    app, account, bucket = pipeline.application, pipeline.build.account, pipeline.build.bucket
    revision = resolve_source(app, ref, SOURCE_CACHE)
    existing = find_package(account, bucket, app, revision.commit)
    if existing is not None:
        logger.info("package %s exists for commit %s; not rebuilt or uploaded", existing.digest, revision.commit[:12])
        result = existing
    else:
        inputs = packaging.inputs_key(app, revision.commit)
        result = build_package(account, bucket, app, revision, inputs)
        if not package_in_s3(account, result):
            logger.info("the cached build of %s is gone from S3; building it again", revision.commit[:12])
            result = build_package.with_options(refresh_cache=True)(account, bucket, app, revision, inputs)
    create_markdown_artifact(
        key="package",
        markdown=reports.package_markdown(result),
        description=f"Deployment package of {app.name} at {ref}",
    )
    return result
