"""`cloudops sandbox up --ecs-pool`: the flow-runner image built by the pipeline's own flow, then the ECS work
pool and its worker (sandbox/sandbox/ecs_pool.py)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from cloudops import flow_run_cluster
from cloudops.images import BuiltImage
from cloudops.settings import load_settings
from deployments.ecs_work_pool import ECS_WORK_POOL
from sandbox import ecs_pool
from sandbox.sandbox import Sandbox

SANDBOX_PROJECT = "sandbox"  # this workspace member's folder in the project


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


def build_flow_runner_in(sandbox: Sandbox, server: ecs_pool.PrefectServer, config_file: Path) -> BuiltImage:
    """The build-flow-runner flow, run in this process against the server, the engine and the build account; with
    the sandbox's package as a plugin: the pool's runs load its RDS data block, as the sandbox's configuration
    names it (on AWS, rds_databases is empty and the product's image needs no plugin)."""
    from flows.build_flow_runner import build_flow_runner

    env = {"DOCKER_HOST": sandbox.state.docker_host, "CLOUDOPS_CONFIG_FILE": str(config_file.resolve())}
    with environment(env), on_server(server):
        return build_flow_runner(plugins=[SANDBOX_PROJECT])


@contextlib.contextmanager
def on_server(server: ecs_pool.PrefectServer) -> Iterator[None]:
    """This process's Prefect client on ``server`` while the block runs."""
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    login = server.login.get_secret_value() if server.login else None
    with temporary_settings(updates={PREFECT_API_URL: server.url, PREFECT_API_AUTH_STRING: login}):
        yield


def set_up_ecs_pool(
    sandbox: Sandbox, config_file: Path, report: Callable[[str], None], server: ecs_pool.PrefectServer | None = None
) -> str:
    """Build the flow-runner image, set the build account and the `cloudops-ecs` pool up on ``server`` (the
    sandbox's own by default), start its worker; the image's reference."""
    state, settings = sandbox.state, sandbox.settings
    server = server or ecs_pool.PrefectServer.of(state)
    image = build_flow_runner_in(sandbox, server, config_file)
    report(f"flow-runner image: {image.reference} ({'built' if image.rebuilt else 'already built'})")
    admin = sandbox.account(settings.build_stage)
    secret_arn, role_arn = ecs_pool.prepare_build_account(admin, settings, server, state)
    with on_server(server):
        block_id = ecs_pool.save_worker_credentials(settings)
    runs = load_settings(config_file)  # the application the pool's runs release (its repository is mounted)
    ecs_pool.configure_pool(
        server, state, runs, image.reference, block_id, secret_arn, role_arn, sandbox.project_dir, config_file
    )
    state.ecs_pool_image = image.reference
    pid = ecs_pool.restart_worker(server, state, settings, sandbox.project_dir)
    state.save()
    report(
        f"ECS work pool {ECS_WORK_POOL}: worker {ecs_pool.WORKER_NAME} (pid {pid}), cluster {flow_run_cluster.CLUSTER}"
    )
    return image.reference
