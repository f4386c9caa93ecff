"""build-release: package, images and snapshots of one commit, as one release record."""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from cloudops import images, packaging, snapshots
from cloudops.release import Release, release_markdown
from cloudops.settings import load_settings
from flows.build_images import build_images
from flows.package import package as package_flow
from flows.runtime.notify import FAILURE_HOOKS
from flows.snapshot import snapshot
from tasks.records import save_release_record
from tasks.stages import open_pipeline


# Two subflows run concurrently only from tasks. These tasks run flows, so they stay with the flow that composes
# them (tasks/ may not import flows/).
@task(name="images", cache_policy=NO_CACHE)
def images_of(package: packaging.Package) -> dict[str, images.BuiltImage]:
    return build_images(package=package)


@task(name="snapshots", cache_policy=NO_CACHE)
def snapshots_of(package: packaging.Package, share_with: list[str] | None) -> dict[str, snapshots.SnapshotRecord]:
    return snapshot(package=package, share_with=share_with)


@flow(name="build-release", log_prints=False, on_failure=FAILURE_HOOKS, on_crashed=FAILURE_HOOKS)
def build_release(ref: str = "HEAD", share_with: list[str] | None = None) -> Release:
    """The build side of a release, in the build account: the package, then images and snapshots concurrently.

    Args:
        ref: The git ref (branch, tag or commit) of the application to build.
        share_with: The stages whose accounts may restore the snapshots (leave empty: every stage but build).
    """
    logger = get_run_logger()
    settings = load_settings()
    for stage in share_with or []:
        settings.target_stage(stage)
    pipeline = open_pipeline(settings=settings)  # fail before any work when the account is wrong
    app, build = pipeline.application, pipeline.build
    package = package_flow(ref=ref)
    built = images_of.submit(package)
    snapped = snapshots_of.submit(package, share_with)
    release = Release(
        application=app.name,
        version=package.manifest.version,
        commit=package.manifest.commit,
        ref=ref,
        package_digest=package.digest,
        package_uri=package.uri,
        images=built.result(),
        snapshots=snapped.result(),
        datasets=package.manifest.datasets,
        flow_run_id=flow_run.get_id(),
        image_roles=app.images,
    )
    uri = save_release_record(build, release)
    create_markdown_artifact(
        key="release", markdown=release_markdown(release, uri), description=f"Release {release.id}"
    )
    rebuilt = [n for n, i in release.images.items() if i.rebuilt]
    taken = [e for e, s in release.snapshots.items() if s.created]
    if not package.uploaded and not rebuilt and not taken:
        logger.info("release %s: nothing changed since it was built; nothing rebuilt", release.id)
    logger.info("release %s recorded at %s", release.id, uri)
    return release
