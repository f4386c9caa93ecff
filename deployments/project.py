"""Creating every deployment of prefect.yaml (and its work pool) against a running Prefect server."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from cloudops.errors import CloudOpsError
from cloudops.settings import load_settings
from deployments.automations import create_automations
from deployments.ecs_work_pool import ensure_ecs_work_pool
from deployments.forms import offer_stages
from deployments.up_to_date import deployment_names, mark_up_to_date, up_to_date
from deployments.work_pool import WORK_POOL, ensure_work_pool, prefect_command

PROJECT_DIR = Path(__file__).resolve().parent.parent


def create_deployments(project_dir: Path = PROJECT_DIR, force: bool = False) -> list[str]:
    """The work pool (unless it exists), every deployment of prefect.yaml (its forms' stages from cloudops.toml)
    and the automations; their names.

    Runs ``prefect deploy --all`` in ``project_dir`` with CLOUDOPS_PROJECT_DIR set, so that the pull step
    of each deployment changes into this project when a worker runs it; not when the server's deployments were
    created from exactly this checkout and are all there (:mod:`deployments.up_to_date`), unless ``force``.
    """
    env = {**os.environ, "CLOUDOPS_PROJECT_DIR": str(project_dir)}
    if not env.get("PREFECT_API_URL"):
        raise CloudOpsError(
            "PREFECT_API_URL is not set: point it at your Prefect server "
            '(in the sandbox: eval "$(uv run cloudops sandbox env)")'
        )
    ensure_work_pool(env)
    ensure_ecs_work_pool(env)  # release-on-ecs's pool (its worker and defaults: docs/promotion.md's ECS section)
    stages = load_settings().target_stages()
    if not force and up_to_date(project_dir, stages):
        names = deployment_names(project_dir)
        return [f"{len(names)} deployments up to date (created from this checkout; --force deploys them again)"] + [
            f"automation {name}" for name in create_automations()
        ]
    result = subprocess.run(
        [str(prefect_command()), "--no-prompt", "deploy", "--all"],
        cwd=project_dir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise CloudOpsError(f"prefect deploy --all failed in {project_dir}:\n{result.stdout[-3000:]}{result.stderr}")
    names = re.findall(r"Deployment '([^']+)' successfully created", result.stdout)
    deployments = [f"deployment {n}" for n in names] or [f"deployments (see `prefect deploy`) in pool {WORK_POOL}"]
    offered = offer_stages(load_settings())
    forms = [f"stage choices from cloudops.toml in the forms of {len(offered)} deployments"] if offered else []
    mark_up_to_date(project_dir, stages)  # after the forms' stages: that updates the deployments too
    return deployments + forms + [f"automation {name}" for name in create_automations()]
