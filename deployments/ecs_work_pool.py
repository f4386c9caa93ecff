"""The ECS work pool (`cloudops-ecs`): prefect-aws's ECS worker starts each of its flow runs as an ECS task.

``ensure_ecs_work_pool`` creates it with prefect-aws's own base job template unless it exists; a platform team
(or the sandbox, ``cloudops sandbox up --ecs-pool``) then gives the template its defaults with
``ecs_job_template``: the flow-runner image, the cluster, the credentials block, the environment, and for the
EC2 launch type the task's network mode and the instance's folders it mounts.
"""

from __future__ import annotations

import copy
import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cloudops.errors import ConfigurationError
from cloudops.flow_runner import SITE_FOLDER
from deployments.work_pool import run_prefect, work_pool_exists

ECS_WORK_POOL = "cloudops-ecs"  # prefect.yaml's ECS work pool
FLOW_RUN_COMMAND = "python3 -m prefect flow-run execute"  # the flow-runner image has no `prefect` script on PATH
FLOWS_FOLDER = SITE_FOLDER  # the deployments' working directory on the pool: where the image has the flows
# Heartbeats let the cloudops-crash-silent-runs automation see a run whose task died (as the process pool's)
HEARTBEAT = {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30"}


@dataclass(frozen=True)
class HostVolume:
    """A folder of the EC2 instance mounted into the flow run's container (the same path inside)."""

    path: str
    read_only: bool = False


@dataclass(frozen=True)
class EcsPoolDefaults:
    """What every flow run of the pool gets unless its deployment says otherwise."""

    image: str
    cluster: str
    credentials_block_id: str  # a prefect-aws AwsCredentials block: the worker's identity in the account
    auth_string_secret_arn: str | None = None  # the Prefect server's login, from Secrets Manager, never in env
    execution_role_arn: str | None = None
    launch_type: str = "FARGATE"
    env: dict[str, str] = field(default_factory=dict)
    network_mode: str | None = None  # "host" on EC2: the task reaches what the instance reaches
    volumes: tuple[HostVolume, ...] = ()
    cpu: int = 1024
    memory: int = 2048


def default_template(env: Mapping[str, str]) -> dict[str, Any]:
    """prefect-aws's base job template for ECS (it must be installed where this runs)."""
    shown = _prefect(env, "work-pool", "get-default-base-job-template", "--type", "ecs")
    try:
        return dict(json.loads(shown))
    except ValueError:
        raise ConfigurationError(
            "prefect-aws's ECS job template is missing: install the ecs-worker group (uv sync --group ecs-worker)"
        ) from None


def ecs_job_template(template: dict[str, Any], defaults: EcsPoolDefaults) -> dict[str, Any]:
    """``template`` (prefect-aws's) with the pool's defaults; what runs is still what its variables say."""
    result = copy.deepcopy(template)
    properties = result["variables"]["properties"]
    values: dict[str, Any] = {
        "image": defaults.image,
        "cluster": defaults.cluster,
        "launch_type": defaults.launch_type,
        "aws_credentials": {"$ref": {"block_document_id": defaults.credentials_block_id}},
        "command": FLOW_RUN_COMMAND,
        "env": HEARTBEAT | dict(defaults.env),
        "cpu": defaults.cpu,
        "memory": defaults.memory,
        "configure_cloudwatch_logs": defaults.execution_role_arn is not None,  # the execution role ships the logs
    }
    if defaults.auth_string_secret_arn:
        values["prefect_api_auth_string_secret_arn"] = defaults.auth_string_secret_arn
    if defaults.execution_role_arn:
        values["execution_role_arn"] = defaults.execution_role_arn
    for name, value in values.items():
        properties[name]["default"] = value
    task_definition = result["job_configuration"]["task_definition"]
    if defaults.network_mode:
        task_definition["networkMode"] = defaults.network_mode
    if defaults.volumes:
        named = [(f"host-{number}", volume) for number, volume in enumerate(defaults.volumes, start=1)]
        task_definition["volumes"] = [{"name": name, "host": {"sourcePath": volume.path}} for name, volume in named]
        task_definition["containerDefinitions"][0]["mountPoints"] = [
            {"sourceVolume": name, "containerPath": volume.path, "readOnly": volume.read_only} for name, volume in named
        ]
    return result


def ensure_ecs_work_pool(env: Mapping[str, str], template: dict[str, Any] | None = None) -> bool:
    """Create the ECS work pool unless it exists (with prefect-aws's template), or give it ``template``; True
    when created."""
    exists = work_pool_exists(env, ECS_WORK_POOL)
    if exists and template is None:
        return False
    with tempfile.NamedTemporaryFile("w", suffix=".json") as file:
        json.dump(template or default_template(env), file)
        file.flush()
        if exists:
            _prefect(env, "work-pool", "update", ECS_WORK_POOL, "--base-job-template", file.name)
        else:
            _prefect(env, "work-pool", "create", ECS_WORK_POOL, "--type", "ecs", "--base-job-template", file.name)
    return not exists


def _prefect(env: Mapping[str, str], *arguments: str) -> str:
    done = run_prefect(env, *arguments)
    if done.returncode != 0:
        raise ConfigurationError(f"prefect {' '.join(arguments[:2])} failed: {(done.stderr or done.stdout).strip()}")
    return done.stdout
