"""Tasks of the build-images flow: one per image, each a thin wrapper over cloudops.images."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import docker
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from blocks.aws_account import AwsAccount
from cloudops import images, packaging
from cloudops.aws import ecr
from cloudops.registry import RegistryClient
from cloudops.settings import Application
from cloudops.snapshots import database_name
from tasks.retry import AWS_RETRIES

WORK_ROOT = Path(tempfile.gettempdir()) / "cloudops-images"


def _engine() -> docker.DockerClient:
    # DOCKER_HOST names the engine (`cloudops sandbox env` exports the sandbox's).
    return docker.from_env(timeout=900)


@task(name="ensure-repositories", cache_policy=NO_CACHE, **AWS_RETRIES)
def ensure_repositories(account: AwsAccount, names: list[str]) -> list[str]:
    """The build account's ECR repositories exist, with immutable tags."""
    session = account.session()
    return [name for name in names if ecr.ensure_repository(session, name)]


@task(name="unpack-package", cache_policy=NO_CACHE, **AWS_RETRIES)
def unpack_package(account: AwsAccount, package: packaging.Package) -> Path:
    """The package, fetched from S3 and checked against its digest, unpacked as the build context."""
    destination = WORK_ROOT / package.digest.removeprefix("sha256:")[:32]
    if not (destination / "manifest.json").is_file():
        WORK_ROOT.mkdir(parents=True, exist_ok=True)
        # Unpack beside it, then rename: a concurrent task (images, snapshots) never sees half a package.
        scratch = Path(tempfile.mkdtemp(prefix="unpacking-", dir=WORK_ROOT))
        packaging.download(account.session(), package, scratch / "package")
        try:
            (scratch / "package").rename(destination)
        except OSError:  # another task got there first; its copy is the same package
            shutil.rmtree(scratch, ignore_errors=True)
    return destination


@task(name="base-image", cache_policy=NO_CACHE, **AWS_RETRIES)
def base_image(account: AwsAccount) -> images.BuiltImage:
    logger = get_run_logger()
    with RegistryClient(account.registry_login()) as registry:
        return images.ensure_base(_engine(), registry, logger.info)


@task(name="build-image", task_run_name="build-image-{name}", cache_policy=NO_CACHE, **AWS_RETRIES)
def build_image(
    name: str,
    app: Application,
    context: Path,
    package: packaging.Package,
    base: images.BuiltImage,
    account: AwsAccount,
) -> images.BuiltImage:
    """Build one image from the package unless the registry has one from the same inputs; push and tag it.

    The image of the database role (``application.images.database``) also gets the author data sets baked in
    (see cloudops.images.bake_database).
    """
    logger = get_run_logger()
    manifest = package.manifest
    dockerfile = app.dockerfiles[name]
    copied = images.files_copied((context / dockerfile).read_text(), manifest.files)
    baked = name == app.images.database
    extra = [*copied, *(f"dataset:{k}={v}" for k, v in manifest.datasets.items() if baked)]
    inputs = images.image_inputs(name, dockerfile, manifest.files, base.digest, extra)
    tags = (manifest.version, manifest.commit)
    with RegistryClient(account.registry_login()) as registry:
        digest = images.find_built(registry, name, inputs)
        rebuilt = digest is None
        if digest is None:
            engine = _engine()
            labels = {
                images.LABEL_INPUTS: inputs,
                "org.opencontainers.image.revision": manifest.commit,
                "org.opencontainers.image.version": manifest.version,
            }
            image_id = images.build(
                engine,
                context,
                dockerfile,
                f"cloudops-build/{name}:{inputs[:16]}",
                {"BASE_IMAGE": f"{registry.host}/base:{base.tags[0]}"},
                labels,
                logger.info,
            )
            if baked:
                image_id = images.bake_database(
                    engine,
                    image_id,
                    context / app.datasets,
                    "author",
                    database_name(app.name, "author"),
                    labels,
                    logger.info,
                )
            digest = images.publish(engine, registry, image_id, name, inputs, logger.info)
            logger.info("image %s built and pushed: %s", name, digest)
        else:
            logger.info("image %s exists for these inputs (%s); not rebuilt", name, digest)
        applied = images.apply_tags(registry, name, digest, tags)
    return images.BuiltImage(
        name=name, registry=registry.host, digest=digest, inputs=inputs, tags=applied, rebuilt=rebuilt
    )
