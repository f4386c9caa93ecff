"""build-images (BuildBaseImage, BuildEPImage, BuildActiveMQ, BuildMySQL): the release images, built once."""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from cloudops import images, packaging
from flows.package import package as package_flow
from tasks.images import base_image, build_image, ensure_repositories, unpack_package
from tasks.stages import open_pipeline


@flow(name="build-images", log_prints=False)
def build_images(ref: str = "HEAD", package: packaging.Package | None = None) -> dict[str, images.BuiltImage]:
    """Build (or find by inputs) the base image, then the application's images concurrently; push and tag them.

    Args:
        ref: The git ref of the application to build, when no package is given.
        package: The package a parent run built (leave empty: the package of ``ref``, built if missing).
    """
    logger = get_run_logger()
    pipeline = open_pipeline()
    app, account = pipeline.application, pipeline.build.account
    if package is None:
        package = package_flow(ref=ref)
    ensure_repositories(account, ["base", *app.dockerfiles])
    context = unpack_package(account, package)
    base = base_image(account)
    futures = {name: build_image.submit(name, app, context, package, base, account) for name in sorted(app.dockerfiles)}
    built = {"base": base, **{name: future.result() for name, future in futures.items()}}
    rebuilt = [name for name, image in built.items() if image.rebuilt]
    logger.info(
        "images: %s rebuilt, %s unchanged",
        ", ".join(rebuilt) or "none",
        ", ".join(n for n in built if n not in rebuilt) or "none",
    )
    create_table_artifact(
        key="images",
        table=[
            {
                "image": n,
                "digest": i.digest,
                "registry": i.registry,
                "tags": ", ".join(i.tags),
                "rebuilt": "yes" if i.rebuilt else "no",
            }
            for n, i in built.items()
        ],
        description=f"Images of {app.name} {package.manifest.version}",
    )
    return built
