"""The sandbox's hint to `cloudops` of a Prefect server that answers (entry point ``cloudops.prefect_api_hints``):
a shell without PREFECT_API_URL is told to take up the sandbox's, not left to start a temporary one."""

from __future__ import annotations

from sandbox import prefect_server
from sandbox.state import SandboxState, sandbox_dir


def running_sandbox_api() -> str | None:
    """The API address of the sandbox's Prefect server, when the sandbox folder has one that answers."""
    state = SandboxState.load(sandbox_dir())
    if state is None or not prefect_server.answers(state):
        return None
    return state.prefect_api_url
