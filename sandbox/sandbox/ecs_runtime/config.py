"""What the sandbox tells its ECS runtime: the Docker engine, and each account's own registry and login.

Written by the sandbox (``Sandbox.write_ecs_runtime_config``) as a file of mode 0600, named to moto's
process by an environment variable; read again at each round, so registries started later count.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr

CONFIG_ENV = "CLOUDOPS_ECS_RUNTIME"
LOOPBACK_NET_ENV = "CLOUDOPS_LB_NET"  # the first two octets of the sandbox's load balancer addresses


class AccountRuntime(BaseModel):
    stage: str
    registry_url: str
    username: str
    password: SecretStr


class MariaDbLogin(BaseModel):
    host: str
    port: int
    user: str
    password: SecretStr


class RdsRuntimeConfig(BaseModel):
    """What the RDS runtime (sandbox/sandbox/rds_runtime/) needs: where instances keep their data, the sandbox's MariaDB
    (which holds the snapshots' data), and the accounts whose instances it runs as servers of their own."""

    data_dir: Path
    snapshots: MariaDbLogin
    accounts: list[str]


class RuntimeConfig(BaseModel):
    """What the sandbox tells the runtime (a file of mode 0600): its Docker engine and each account's registry."""

    docker_host: str
    accounts: dict[str, AccountRuntime]
    efs_root: Path | None = Field(
        default=None,
        description=(
            "The sandbox's folder of EFS file systems: <efs_root>/<account>/<file system id>/<access point path> "
            "(kept across redeploys and `sandbox down`/`up`); none: a task with an EFS volume cannot start."
        ),
    )
    rds: RdsRuntimeConfig | None = None

    def save(self, path: Path) -> None:
        data = self.model_dump(mode="json")
        for account, runtime in self.accounts.items():
            data["accounts"][account]["password"] = runtime.password.get_secret_value()
        if self.rds is not None:
            data["rds"]["snapshots"]["password"] = self.rds.snapshots.password.get_secret_value()
        path.touch(mode=0o600, exist_ok=True)
        path.write_text(json.dumps(data))
