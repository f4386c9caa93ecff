"""package (CloudTeam): build the deployment package of the application at a git ref, in the build account."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from blocks.stage_accounts import load_stage_account
from cloudops import packaging
from cloudops.errors import ConfigurationError
from cloudops.settings import Application, Settings, load_settings
from tasks.packaging import build_package, find_package, package_in_s3, resolve_source

SOURCE_CACHE = Path.home() / ".cache" / "cloudops" / "sources"


def application_of(settings: Settings) -> Application:
    if settings.application is None:
        raise ConfigurationError(
            "cloudops.toml has no [application]; add one (see the README's 'Your own application')"
        )
    return settings.application


@flow(name="package", log_prints=False)
def package(ref: str = "HEAD") -> packaging.Package:
    """Build the deployment package for ``ref`` and put it in the build account's bucket, once per commit."""
    logger = get_run_logger()
    settings = load_settings()
    app = application_of(settings)
    build_stage = settings.stage(settings.build_stage)
    account = load_stage_account(settings, settings.build_stage)
    revision = resolve_source(app, ref, SOURCE_CACHE)
    existing = find_package(account, build_stage.bucket, app, revision.commit)
    if existing is not None:
        logger.info("package %s exists for commit %s; not rebuilt or uploaded", existing.digest, revision.commit[:12])
        result = existing
    else:
        inputs = packaging.inputs_key(app, revision.commit)
        result = build_package(account, build_stage.bucket, app, revision, inputs)
        if not package_in_s3(account, result):
            logger.info("the cached build of %s is gone from S3; building it again", revision.commit[:12])
            result = build_package.with_options(refresh_cache=True)(account, build_stage.bucket, app, revision, inputs)
    create_markdown_artifact(
        key="package",
        markdown=(
            f"### Package {result.manifest.version}\n\n"
            f"| | |\n|---|---|\n| commit | `{result.manifest.commit}` |\n| digest | `{result.digest}` |\n"
            f"| location | `{result.uri}` |\n| size | {result.size} bytes |\n"
            f"| files | {len(result.manifest.files)} |\n| data sets | {', '.join(result.manifest.datasets)} |\n"
            f"| built now | {'yes' if result.uploaded else 'no (it existed)'} |\n"
        ),
        description=f"Deployment package of {app.name} at {ref}",
    )
    return result
