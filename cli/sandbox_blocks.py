"""Saving the sandbox accounts' credential blocks in the sandbox's own Prefect server."""

from __future__ import annotations

from blocks.register import sandbox_registry, save_stage_blocks
from cloudops.sandbox.sandbox import Sandbox


def save_sandbox_blocks(sandbox: Sandbox) -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    registries = sandbox.state.registries
    with temporary_settings(updates={PREFECT_API_URL: sandbox.state.prefect_api_url}):
        return save_stage_blocks(
            sandbox.settings,
            sandbox.credentials,
            lambda stage: sandbox_registry(registries[stage].address, registries[stage].password),
        )
