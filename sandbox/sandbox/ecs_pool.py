"""The sandbox's ECS work pool (``cloudops sandbox up --ecs-pool``): prefect-aws's ECS worker, in the build
account, starting each flow run of the `cloudops-ecs` pool as an ECS task of the cluster ``cloudops-flow-runs``,
which the sandbox's ECS runtime runs on its Docker engine from the flow-runner image.

What it sets up in the build account goes through the product's own bootstrap, as `cloudops accounts bootstrap
--ecs-pool` sets it up on AWS (cloudops/flow_run_cluster.py: the cluster, the tasks' execution role, their log
group, the EventBridge rule that sends the cluster's task state changes to the SQS queue prefect-aws's observer
reads, which marks a run whose task stopped early Crashed; sandbox/sandbox/ecs_runtime/task_events.py puts the events);
then what an operator does on AWS: the Prefect login in Secrets Manager (the task gets it as a secret, never in
its environment or overrides). The worker's own role (``cloudops-ecs-worker``,
cloudops/templates/policies/ecs-worker.json) it
reaches through the AWS profile ``build-ecs-worker`` of the sandbox's AWS config.

The flow runs' tasks use the EC2 launch type with ``networkMode: host``: they reach what this machine reaches
(the Prefect server, moto, the registries, MariaDB on 127.0.0.1), and they mount the folders a run reads: the
project and the configuration file's folder (read-only), and the folder of the Docker engine's socket, which
the image builds need. NOTE: on AWS the same is a Fargate or EC2 task in private subnets with a task role;
see docs/promotion.md, "Outgrowing one machine".
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import ClientError
from pydantic import SecretStr

from cloudops.aws.session import AccountSession
from cloudops.bootstrap import Trust, bootstrap_account
from cloudops.flow_run_cluster import AUTH_SECRET, CLUSTER, EXECUTION_ROLE
from cloudops.policies import ECS_WORKER
from cloudops.settings import RDS_DATABASES_ENV, Settings
from deployments.ecs_work_pool import (
    ECS_WORK_POOL,
    EcsPoolDefaults,
    HostVolume,
    default_template,
    ecs_job_template,
    ensure_ecs_work_pool,
)
from deployments.work_pool import prefect_command
from sandbox.processes import alive, spawn, stop
from sandbox.state import SANDBOX_BASE_USER_ARN, SANDBOX_RDS_DATA, WORKER_QUERY_SECONDS, SandboxState

CREDENTIALS_BLOCK = "cloudops-ecs-worker"  # a prefect-aws AwsCredentials block naming the worker's AWS profile
PID_KEY = "worker-ecs"  # stopped with the process workers by `down`
LOG_NAME = "prefect-ecs-worker.log"
WORKER_NAME = "sandbox-ecs"


@dataclass(frozen=True)
class PrefectServer:
    """The Prefect server the pool is on: the sandbox's own, or the tests' harness."""

    url: str
    login: SecretStr | None = None

    @classmethod
    def of(cls, state: SandboxState) -> PrefectServer:
        return cls(state.prefect_api_url, state.prefect_login)

    def client_env(self) -> dict[str, str]:
        login = {"PREFECT_API_AUTH_STRING": self.login.get_secret_value()} if self.login else {}
        return {"PREFECT_API_URL": self.url, **login}


def worker_profile(settings: Settings) -> str:
    """The AWS profile the worker reaches the build account with (sandbox.Sandbox.write_client_config)."""
    return f"{settings.build_stage}-{ECS_WORKER.kind}"


def prepare_build_account(
    admin: AccountSession, settings: Settings, server: PrefectServer, state: SandboxState
) -> tuple[str | None, str]:
    """The build account's flow-run cluster through its bootstrap, as `cloudops accounts bootstrap --ecs-pool` makes
    it on AWS; then the Prefect login in Secrets Manager, which an operator puts there on AWS. (Secret ARN, the
    tasks' execution role's ARN.)"""
    build = settings.build_stage
    bootstrap_account(admin, settings, build, Trust(SANDBOX_BASE_USER_ARN), ecs_pool=True)
    role = state.role_arn(settings.stage(build).account_id, EXECUTION_ROLE)
    if server.login is None:
        return None, role
    secrets = admin.client("secretsmanager")
    login = server.login.get_secret_value()
    try:
        arn = str(secrets.create_secret(Name=AUTH_SECRET, SecretString=login)["ARN"])
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceExistsException":
            raise
        arn = str(secrets.put_secret_value(SecretId=AUTH_SECRET, SecretString=login)["ARN"])
    return arn, role


def save_worker_credentials(settings: Settings) -> str:
    """The AwsCredentials block of the worker (a profile name and a region, no key); its document id."""
    from prefect_aws import AwsCredentials

    region = settings.stage(settings.build_stage).region
    block = AwsCredentials(profile_name=worker_profile(settings), region_name=region)
    return str(block.save(CREDENTIALS_BLOCK, overwrite=True))


def run_volumes(
    state: SandboxState, project_dir: Path, config_file: Path, settings: Settings
) -> tuple[HostVolume, ...]:
    """The folders of this machine a flow run's task mounts, at the same paths: the project and the configuration
    (and the application's repository, when it is a folder elsewhere) read-only, the Docker socket's folder."""
    folders = [project_dir.resolve(), config_file.resolve().parent]
    application = settings.application
    if application is not None and "://" not in application.repository:
        folders.append(Path(application.repository).resolve())
    read_only = [f for f in dict.fromkeys(folders) if not any(f != o and f.is_relative_to(o) for o in folders)]
    return (*(HostVolume(str(f), read_only=True) for f in read_only), HostVolume(str(state.runtime_dir)))


def run_env(state: SandboxState, config_file: Path) -> dict[str, str]:
    """The environment of each flow run's container (the Prefect server's address comes from the worker)."""
    return {
        "CLOUDOPS_CONFIG_FILE": str(config_file.resolve()),
        "DOCKER_HOST": state.docker_host,
        RDS_DATABASES_ENV: SANDBOX_RDS_DATA,
    }


def configure_pool(
    server: PrefectServer,
    state: SandboxState,
    settings: Settings,
    image: str,
    block_id: str,
    secret_arn: str | None,
    execution_role_arn: str,
    project_dir: Path,
    config_file: Path,
) -> dict[str, object]:
    """Create the ECS work pool (or bring its template up to date) with the sandbox's defaults; its template."""
    env = server.client_env() | {"PATH": os.environ.get("PATH", "")}
    defaults = EcsPoolDefaults(
        image=image,
        cluster=CLUSTER,
        credentials_block_id=block_id,
        auth_string_secret_arn=secret_arn,
        execution_role_arn=execution_role_arn,
        launch_type="EC2",
        env=run_env(state, config_file),
        network_mode="host",
        volumes=run_volumes(state, project_dir, config_file, settings),
    )
    template = ecs_job_template(default_template(env), defaults)
    ensure_ecs_work_pool(env, template)
    return template


def worker_env(server: PrefectServer, state: SandboxState, settings: Settings) -> dict[str, str]:
    """The ECS worker's environment: the Prefect server's address and login, and its AWS profile."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "AWS_"))}
    return (
        env
        | server.client_env()
        | {
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_WORKER_QUERY_SECONDS": WORKER_QUERY_SECONDS,
            "AWS_CONFIG_FILE": str(state.root / "aws" / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(state.root / "aws" / "credentials"),
            "AWS_PROFILE": worker_profile(settings),
        }
    )


def start_worker(server: PrefectServer, state: SandboxState, settings: Settings, project_dir: Path) -> int:
    """The ECS worker of the pool, unless it runs; its pid."""
    running = state.pids.get(PID_KEY)
    if alive(running) and running is not None:
        return running
    command = [str(prefect_command()), "worker", "start", "--pool", ECS_WORK_POOL, "--type", "ecs"]
    command += ["--name", WORKER_NAME]
    env = worker_env(server, state, settings)
    state.pids[PID_KEY] = pid = spawn(command, state.logs / LOG_NAME, env=env, cwd=project_dir)
    return pid


def restart_worker(server: PrefectServer, state: SandboxState, settings: Settings, project_dir: Path) -> int:
    """The ECS worker started afresh: it reads the pool and finds the events queue as they are now; its pid."""
    stop(state.pids.pop(PID_KEY, None))
    return start_worker(server, state, settings, project_dir)


def stop_worker(state: SandboxState) -> None:
    """Stop the ECS worker and forget the pool: the next `up` starts no ECS worker."""
    stop(state.pids.pop(PID_KEY, None))
    state.ecs_pool_image = ""
