"""A Prefect server with its UI, its database a SQLite file in the sandbox folder or the sandbox's PostgreSQL.

Started as the ``prefect server start`` command, through ``sandbox.prefect_server_fixes`` (its write
transactions on SQLite take the write lock first); this module does not import Prefect. Its API asks every
client for the sandbox's login (basic auth, PREFECT_SERVER_API_AUTH_STRING), its UI too; only ``/health`` is
open.
"""

from __future__ import annotations

import os
import sys

import httpx

from sandbox import postgres
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
        "PREFECT_SERVER_API_AUTH_STRING": state.prefect_login.get_secret_value(),
    }
    if state.prefect_database == "postgresql":
        env |= postgres.prefect_database_env(state)
    command = [sys.executable, "-m", "sandbox.prefect_server_fixes"]
    command += ["server", "start", "--host", "127.0.0.1", "--port", str(state.prefect_port)]
    return spawn(command, state.logs / "prefect-server.log", env=env, cwd=state.root)


def client_env(state: SandboxState) -> dict[str, str]:
    """The environment a Prefect client of this server needs: its address and its login."""
    return {"PREFECT_API_URL": state.prefect_api_url, "PREFECT_API_AUTH_STRING": state.prefect_login.get_secret_value()}


def answers(state: SandboxState) -> bool:
    try:
        return httpx.get(f"{state.prefect_api_url}/health", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False
