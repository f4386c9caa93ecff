"""`cloudops sandbox up --ecs-pool`: the flow-runner image built by the pipeline's own flow, then the ECS work
pool and its worker (sandbox/ecs_pool.py)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from cloudops.images import BuiltImage
from deployments.ecs_work_pool import ECS_WORK_POOL
from sandbox import ecs_pool
from sandbox.sandbox import Sandbox


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """``values`` in this process's environment while the block runs; what was there before, after."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def build_flow_runner_in(sandbox: Sandbox, config_file: Path) -> BuiltImage:
    """The build-flow-runner flow, run in this process against the sandbox's server, engine and build account."""
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    from flows.build_flow_runner import build_flow_runner

    state = sandbox.state
    login = state.prefect_login.get_secret_value()
    env = {"DOCKER_HOST": state.docker_host, "CLOUDOPS_CONFIG_FILE": str(config_file.resolve())}
    with (
        environment(env),
        temporary_settings(updates={PREFECT_API_URL: state.prefect_api_url, PREFECT_API_AUTH_STRING: login}),
    ):
        return build_flow_runner()


def set_up_ecs_pool(sandbox: Sandbox, config_file: Path, report: Callable[[str], None]) -> str:
    """Build the flow-runner image, set the build account and the `cloudops-ecs` pool up, start its worker; the
    image's reference."""
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    state, settings = sandbox.state, sandbox.settings
    image = build_flow_runner_in(sandbox, config_file)
    report(f"flow-runner image: {image.reference} ({'built' if image.rebuilt else 'already built'})")
    build = settings.stage(settings.build_stage)
    secret_arn, role_arn = ecs_pool.prepare_build_account(
        sandbox.account(settings.build_stage), state, build.account_id, build.region
    )
    with temporary_settings(
        updates={
            PREFECT_API_URL: state.prefect_api_url,
            PREFECT_API_AUTH_STRING: state.prefect_login.get_secret_value(),
        }
    ):
        block_id = ecs_pool.save_worker_credentials(settings)
    ecs_pool.configure_pool(
        state, settings, image.reference, block_id, secret_arn, role_arn, sandbox.project_dir, config_file
    )
    state.ecs_pool_image = image.reference
    pid = ecs_pool.start_worker(state, settings, sandbox.project_dir)
    state.save()
    report(f"ECS work pool {ECS_WORK_POOL}: worker {ecs_pool.WORKER_NAME} (pid {pid}), cluster {ecs_pool.CLUSTER}")
    return image.reference
