"""The sandbox's Prefect worker: it runs the deployments' flow runs (from the UI, the nightly schedule and the
approval trigger) on this machine, with the sandbox's Docker engine and this project as working directory.

Started as the ``prefect worker start`` command; this module does not import Prefect.
"""

from __future__ import annotations

import os
from pathlib import Path

from deployments.work_pool import WORK_POOL, prefect_command
from sandbox.processes import alive, spawn
from sandbox.state import SandboxState


def worker_env(state: SandboxState, project_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    return env | {
        "PREFECT_API_URL": state.prefect_api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "CLOUDOPS_PROJECT_DIR": str(project_dir),
        "DOCKER_HOST": state.docker_host,
    }


def start(state: SandboxState, project_dir: Path) -> int:
    command = [str(prefect_command()), "worker", "start", "--pool", WORK_POOL, "--type", "process", "--name", "sandbox"]
    return spawn(command, state.logs / "prefect-worker.log", env=worker_env(state, project_dir), cwd=project_dir)


def answers(state: SandboxState) -> bool:
    return alive(state.pids.get("worker"))
