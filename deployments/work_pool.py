"""The process work pool the deployments of prefect.yaml run on, created unless it exists."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from cloudops.errors import ConfigurationError

WORK_POOL = "cloudops-local"  # prefect.yaml's process work pool


def prefect_command() -> Path:
    prefect = Path(sys.executable).parent / "prefect"
    if not prefect.exists():
        raise ConfigurationError(f"the prefect command is missing beside {sys.executable}; run scripts/setup.sh")
    return prefect


def run_prefect(env: Mapping[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    """``prefect <arguments>`` against the server of ``env``'s PREFECT_API_URL; its result, whatever it is."""
    return subprocess.run(
        [str(prefect_command()), *arguments], env=dict(env), capture_output=True, text=True, check=False
    )


def work_pool_exists(env: Mapping[str, str], name: str) -> bool:
    """Whether the server of ``env``'s PREFECT_API_URL has work pool ``name`` (asked through the API: a `prefect`
    command would take 1.8 s to start)."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    server = {  # the server and login of ``env``, as the `prefect` command given ``env`` would use them
        setting: env[setting.name] for setting in (PREFECT_API_URL, PREFECT_API_AUTH_STRING) if env.get(setting.name)
    }
    with temporary_settings(updates=server), get_client(sync_client=True) as client:
        try:
            client.read_work_pool(name)
        except ObjectNotFound:
            return False
    return True


def ensure_work_pool(env: Mapping[str, str]) -> bool:
    """Create the process work pool on the server of ``env``'s PREFECT_API_URL unless it exists; True when created."""
    if work_pool_exists(env, WORK_POOL):
        return False
    create = run_prefect(env, "work-pool", "create", WORK_POOL, "--type", "process")
    if create.returncode != 0:
        raise ConfigurationError(f"could not create the work pool {WORK_POOL}: {create.stdout}{create.stderr}")
    return True
