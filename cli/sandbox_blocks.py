"""Saving the sandbox accounts' credential blocks in the sandbox's own Prefect server."""

from __future__ import annotations

from blocks.register import SANDBOX_MYSQL_BLOCK, sandbox_registry, save_mysql_server, save_stage_blocks
from cloudops.sandbox.sandbox import Sandbox
from cloudops.sandbox.state import MYSQL_USER


def save_sandbox_blocks(sandbox: Sandbox) -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    registries = sandbox.state.registries
    state = sandbox.state
    with temporary_settings(updates={PREFECT_API_URL: state.prefect_api_url}):
        saved = save_stage_blocks(
            sandbox.settings,
            sandbox.credentials,
            lambda stage: sandbox_registry(registries[stage].address, registries[stage].password),
        )
        saved["rds"] = save_mysql_server(
            SANDBOX_MYSQL_BLOCK, "127.0.0.1", state.mariadb_port, MYSQL_USER, state.mariadb_password
        )
        return saved
