"""The task of the build-flow-runner flow: a thin wrapper over cloudops.flow_runner and cloudops.images."""

from __future__ import annotations

import tempfile
from pathlib import Path

import docker
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from blocks.aws_account import AwsAccount
from cloudops import flow_runner, images
from cloudops.registry import RegistryClient
from tasks.retry import AWS_RETRIES


@task(name="flow-runner-image", cache_policy=NO_CACHE, **AWS_RETRIES)
def flow_runner_image(account: AwsAccount, base: images.BuiltImage, plugins: list[str]) -> images.BuiltImage:
    """Build the flow-runner image (with ``plugins``: cloudops.flow_runner.make_context) unless the build registry
    has one from the same inputs; push it, tag it with the project's version."""
    logger = get_run_logger()
    project = flow_runner.project_dir()
    inputs = flow_runner.image_inputs(project, base.digest, plugins)
    name = flow_runner.REPOSITORY
    with RegistryClient(account.registry_login()) as registry:
        digest = images.find_built(registry, name, inputs)
        rebuilt = digest is None
        if digest is None:
            engine = docker.from_env(timeout=900)  # DOCKER_HOST names the engine, as for the release images
            with tempfile.TemporaryDirectory(prefix="cloudops-flow-runner-") as scratch:
                context = flow_runner.make_context(project, Path(scratch), logger.info, plugins)
                image_id = images.build(
                    engine,
                    context,
                    "Dockerfile",
                    f"cloudops-build/{name}:{inputs[:16]}",
                    {"BASE_IMAGE": f"{registry.host}/base:{base.tags[0]}"},
                    {images.LABEL_INPUTS: inputs},
                    logger.info,
                )
            digest = images.publish(engine, registry, image_id, name, inputs, logger.info)
            logger.info("the flow-runner image built and pushed: %s", digest)
        else:
            logger.info("the flow-runner image exists for these inputs (%s); not rebuilt", digest)
    return images.BuiltImage(name=name, registry=registry.host, digest=digest, inputs=inputs, rebuilt=rebuilt)
