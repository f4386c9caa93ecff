"""The sandbox's Prefect worker: it runs the deployments' flow runs (from the UI, the nightly schedule and the
approval trigger) on this machine, with the sandbox's Docker engine and this project as working directory.

Started as the ``prefect worker start`` command; this module does not import Prefect.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from cloudops.errors import SandboxError
from cloudops.sandbox.processes import alive, spawn
from cloudops.sandbox.state import SandboxState

WORK_POOL = "cloudops-local"  # prefect.yaml's process work pool


def prefect_command() -> Path:
    prefect = Path(sys.executable).parent / "prefect"
    if not prefect.exists():
        raise SandboxError(f"the prefect command is missing beside {sys.executable}; run scripts/setup.sh")
    return prefect


def worker_env(state: SandboxState, project_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    return env | {
        "PREFECT_API_URL": state.prefect_api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "CLOUDOPS_PROJECT_DIR": str(project_dir),
        "DOCKER_HOST": state.docker_host,
    }


def ensure_work_pool(env: Mapping[str, str]) -> bool:
    """Create the process work pool on the server of ``env``'s PREFECT_API_URL unless it exists; True when created."""
    inspect = subprocess.run(
        [str(prefect_command()), "work-pool", "inspect", WORK_POOL],
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
    )
    if inspect.returncode == 0:
        return False
    create = subprocess.run(
        [str(prefect_command()), "work-pool", "create", WORK_POOL, "--type", "process"],
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
    )
    if create.returncode != 0:
        raise SandboxError(f"could not create the work pool {WORK_POOL}: {create.stdout}{create.stderr}")
    return True


def start(state: SandboxState, project_dir: Path) -> int:
    command = [str(prefect_command()), "worker", "start", "--pool", WORK_POOL, "--type", "process", "--name", "sandbox"]
    return spawn(command, state.logs / "prefect-worker.log", env=worker_env(state, project_dir), cwd=project_dir)


def answers(state: SandboxState) -> bool:
    return alive(state.pids.get("worker"))
