"""A Prefect server with its UI, its default SQLite database in the sandbox folder.

Started as the ``prefect server start`` command, through ``sandbox.prefect_server_fixes`` (its write
transactions on SQLite take the write lock first); this module does not import Prefect.
"""

from __future__ import annotations

import os
import sys

import httpx

from sandbox.processes import spawn
from sandbox.state import SandboxState


def start(state: SandboxState) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {
        "PREFECT_HOME": str(state.root / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_API_URL": state.prefect_api_url,
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_SERVER_API_PORT": str(state.prefect_port),
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "sandbox.prefect_server_fixes"]
    command += ["server", "start", "--host", "127.0.0.1", "--port", str(state.prefect_port)]
    return spawn(command, state.logs / "prefect-server.log", env=env, cwd=state.root)


def answers(state: SandboxState) -> bool:
    try:
        return httpx.get(f"{state.prefect_api_url}/health", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False
