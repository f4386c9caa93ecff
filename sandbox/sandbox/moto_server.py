"""moto in server mode: the AWS APIs of every stage account, on one port."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import httpx

from sandbox.ecs_runtime.config import CONFIG_ENV as ECS_RUNTIME_ENV
from sandbox.ecs_runtime.config import LOOPBACK_NET_ENV
from sandbox.moto_env import IAM_ACCOUNTS_ENV
from sandbox.moto_env import STATE_ENV as MOTO_STATE_ENV
from sandbox.processes import spawn
from sandbox.state import SandboxState


def ecs_runtime_config(state: SandboxState) -> Path:
    """Where the sandbox tells its ECS runtime (in moto's process) the Docker engine and each account's registry."""
    return state.root / "ecs-runtime.json"


def state_file(state: SandboxState) -> Path:
    """Where moto keeps what every API holds while the sandbox is down (mode 0600: it holds secrets)."""
    return state.root / "moto-state.pickle"


def start(state: SandboxState, accounts: list[str]) -> int:
    """moto for the accounts ``accounts``, with IAM authorization on (each account's roles, their policies)."""
    # moto.server with the fixes in sandbox/sandbox/moto_fixes.py, and the ECS runtime in the same process
    command = [sys.executable, "-m", "sandbox.moto_fixes", "-H", "127.0.0.1", "-p", str(state.moto_port)]
    env = {
        **os.environ,
        ECS_RUNTIME_ENV: str(ecs_runtime_config(state)),
        MOTO_STATE_ENV: str(state_file(state)),
        LOOPBACK_NET_ENV: f"127.{77 + state.moto_port % 150}",  # its load balancers' addresses
        # A bucket answers only its own account, as on AWS without a bucket policy granting another (moto
        # otherwise serves any account's bucket to any credentials).
        "MOTO_S3_ALLOW_CROSSACCOUNT_ACCESS": "false",
        # Every request signed and allowed by its caller's policies, from the first (sandbox/sandbox/moto_iam_fixes.py)
        "INITIAL_NO_AUTH_ACTION_COUNT": "0",
        IAM_ACCOUNTS_ENV: ",".join(accounts),
    }
    return spawn(command, state.logs / "moto.log", env=env)


def answers(state: SandboxState) -> bool:
    try:
        return httpx.get(f"{state.moto_url}/moto-api/", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False
