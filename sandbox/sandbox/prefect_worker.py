"""The sandbox's Prefect worker: it runs the deployments' flow runs (from the UI, the nightly schedule and the
approval trigger) on this machine, with the sandbox's Docker engine and this project as working directory.

Started as the ``prefect worker start`` command; this module does not import Prefect.
"""

from __future__ import annotations

import os
from pathlib import Path

from cloudops.settings import RDS_DATABASES_ENV
from deployments.work_pool import WORK_POOL, prefect_command
from sandbox import prefect_server
from sandbox.processes import alive, spawn
from sandbox.state import SANDBOX_RDS_DATA, WORKER_QUERY_SECONDS, SandboxState


def worker_env(state: SandboxState, project_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    return (
        env
        | prefect_server.client_env(state)
        | {
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_WORKER_QUERY_SECONDS": WORKER_QUERY_SECONDS,
            "CLOUDOPS_PROJECT_DIR": str(project_dir),
            "DOCKER_HOST": state.docker_host,
            RDS_DATABASES_ENV: SANDBOX_RDS_DATA,  # where the flows' RDS instances keep their data
        }
    )


def pid_key(number: int) -> str:
    """The key of worker ``number`` (from 1) in the state's pids: ``worker``, then ``worker-2``, ..."""
    return "worker" if number == 1 else f"worker-{number}"


def name(number: int) -> str:
    return "sandbox" if number == 1 else f"sandbox-{number}"


def log_name(number: int) -> str:
    return "prefect-worker.log" if number == 1 else f"prefect-worker-{number}.log"


def start(state: SandboxState, project_dir: Path, number: int = 1) -> int:
    """Process worker ``number`` of the pool (each its own name and log); its pid."""
    command = [str(prefect_command()), "worker", "start", "--pool", WORK_POOL, "--type", "process"]
    command += ["--name", name(number)]
    return spawn(command, state.logs / log_name(number), env=worker_env(state, project_dir), cwd=project_dir)


def answers(state: SandboxState) -> bool:
    """Whether each of the sandbox's workers runs."""
    return all(alive(state.pids.get(pid_key(n))) for n in range(1, state.workers + 1))
