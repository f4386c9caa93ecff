"""moto in server mode: the AWS APIs of every stage account, on one port."""

from __future__ import annotations

import sys

import httpx

from sandbox.processes import spawn
from sandbox.state import SandboxState


def start(state: SandboxState) -> int:
    # moto.server with the fix in sandbox/moto_fixes.py (stack outputs after a change set)
    command = [sys.executable, "-m", "sandbox.moto_fixes", "-H", "127.0.0.1", "-p", str(state.moto_port)]
    return spawn(command, state.logs / "moto.log")


def answers(state: SandboxState) -> bool:
    try:
        return httpx.get(f"{state.moto_url}/moto-api/", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False
