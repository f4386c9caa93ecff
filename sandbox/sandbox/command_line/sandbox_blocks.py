"""Saving the sandbox accounts' credential blocks in the sandbox's own Prefect server."""

from __future__ import annotations

from sandbox.blocks import save_sandbox_blocks
from sandbox.sandbox import Sandbox


def save_sandbox_blocks_in_its_server(sandbox: Sandbox) -> dict[str, str]:
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    login = sandbox.state.prefect_login.get_secret_value()
    with temporary_settings(updates={PREFECT_API_URL: sandbox.state.prefect_api_url, PREFECT_API_AUTH_STRING: login}):
        return save_sandbox_blocks(sandbox)
