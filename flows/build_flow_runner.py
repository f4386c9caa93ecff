"""build-flow-runner: the image the `cloudops-ecs` work pool runs flow runs in, built once per project state."""

from __future__ import annotations

from prefect import flow

from cloudops import flow_runner, images
from tasks.flow_runner import flow_runner_image
from tasks.images import base_image, ensure_repositories
from tasks.stages import open_pipeline


@flow(name="build-flow-runner", log_prints=False)
def build_flow_runner(plugins: list[str] | None = None) -> images.BuiltImage:
    """Build (or find by its inputs) this project's flow-runner image on the base image, in the build account's
    registry: the ``image`` of the ECS work pool's job template.

    Args:
        plugins: Folders of this project (uv workspace members) whose packages the flows load at run time through
            entry points, such as a block type of your own; installed without their dependencies.
    """
    flow_runner.check_plugins(flow_runner.project_dir(), plugins or [])  # before anything is built
    pipeline = open_pipeline()
    account = pipeline.build.account
    ensure_repositories(account, [flow_runner.REPOSITORY])
    return flow_runner_image(account, base_image(account), plugins or [])
