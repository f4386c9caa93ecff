"""What a running sandbox is: its folders, ports, processes and passwords, kept in ``state.json``.

The state file holds the sandbox's generated passwords, so it is written with mode 0600; the
passwords are ``SecretStr`` in memory and never printed.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from cloudops.registry import RegistryLogin

SANDBOX_DIR_ENV = "CLOUDOPS_SANDBOX_DIR"
DEFAULT_SANDBOX_DIR = Path(".sandbox")
# The sandbox's base credentials: moto accepts any; the account is chosen by assuming a role in it.
SANDBOX_ACCESS_KEY_ID = "AKIACLOUDOPSSANDBOX0"
SANDBOX_SECRET_ACCESS_KEY = "cloudops-sandbox-secret-key"
SANDBOX_ROLE_NAME = "cloudops-sandbox"  # each account's administrator: the sandbox sets the account up with it
# The IAM user the base credentials belong to, in moto's default account (sandbox/sandbox/moto_iam_fixes.py)
SANDBOX_BASE_USER = "cloudops-sandbox"
SANDBOX_MANAGEMENT_ACCOUNT = "123456789012"
SANDBOX_BASE_USER_ARN = f"arn:aws:iam::{SANDBOX_MANAGEMENT_ACCOUNT}:user/{SANDBOX_BASE_USER}"
REGISTRY_USER = "AWS"  # ECR's registry user name, kept so that the sandbox looks like ECR to clients
MYSQL_USER = "cloudops"
SANDBOX_MYSQL_BLOCK = "sandbox-mariadb"
RDS_DATA_BLOCK_TYPE = "cloudops-sandbox-rds-data"
# The configuration's ``rds_databases`` in the sandbox (its environment and its worker's set it): the block's type
# slug and name.
SANDBOX_RDS_DATA = f"{RDS_DATA_BLOCK_TYPE}/{SANDBOX_MYSQL_BLOCK}"
# How often the sandbox's workers ask for runs (Prefect's default: 10 s): a local server answers such polls for
# next to nothing, and a run from the UI or a test starts in about a second, not five.
WORKER_QUERY_SECONDS = "2"


def new_password() -> SecretStr:
    return SecretStr(secrets.token_urlsafe(24))


def new_prefect_login() -> SecretStr:
    """The sandbox Prefect server's basic-auth string, ``user:password`` as its UI's login form asks for it."""
    return SecretStr(f"cloudops:{secrets.token_urlsafe(24)}")


class RegistryState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stage: str
    port: int
    password: SecretStr = Field(default_factory=new_password)
    pid: int | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def login(self, password: SecretStr | None = None) -> RegistryLogin:
        """How to log in to this registry (as ECR's user ``AWS``), with its password unless another is given."""
        return RegistryLogin(url=f"http://{self.address}", username=REGISTRY_USER, password=password or self.password)


PrefectDatabase = Literal["sqlite", "postgresql"]
PREFECT_DATABASES: tuple[PrefectDatabase, ...] = ("sqlite", "postgresql")


class SandboxState(BaseModel):
    """Everything needed to use, check and stop a sandbox."""

    model_config = ConfigDict(extra="forbid")

    root: Path
    moto_port: int
    mariadb_port: int
    prefect_port: int
    mariadb_password: SecretStr = Field(default_factory=new_password)
    # The Prefect server asks every client for it (PREFECT_SERVER_API_AUTH_STRING): the CLI, the worker, the UI
    prefect_login: SecretStr = Field(default_factory=new_prefect_login)
    registries: dict[str, RegistryState] = Field(default_factory=dict)
    pids: dict[str, int] = Field(default_factory=dict)
    # Where the Prefect server keeps its runs: a SQLite file in the sandbox folder, or the sandbox's PostgreSQL
    prefect_database: PrefectDatabase = "sqlite"
    postgres_port: int = 0  # given when the sandbox first runs on PostgreSQL
    postgres_password: SecretStr = Field(default_factory=new_password)
    workers: int = Field(default=1, ge=1, le=16, description="The process workers serving the work pool.")
    # The ECS work pool's flow-runner image (``up --ecs-pool``); its worker starts with the sandbox while set
    ecs_pool_image: str = ""

    @property
    def runtime_dir(self) -> Path:
        """A short folder under /tmp for sockets, whose paths are limited to 108 bytes."""
        digest = hashlib.sha1(str(self.root.resolve()).encode()).hexdigest()[:10]
        return Path("/tmp") / f"cloudops-{digest}"

    @property
    def docker_socket(self) -> Path:
        return self.runtime_dir / "docker.sock"

    @property
    def docker_host(self) -> str:
        return f"unix://{self.docker_socket}"

    @property
    def mariadb_socket(self) -> Path:
        return self.runtime_dir / "mariadb.sock"

    @property
    def moto_url(self) -> str:
        return f"http://127.0.0.1:{self.moto_port}"

    @property
    def prefect_api_url(self) -> str:
        return f"http://127.0.0.1:{self.prefect_port}/api"

    @property
    def prefect_login_file(self) -> Path:
        """The Prefect login alone, mode 0600: what a person types in the UI's login form, what a shell reads."""
        return self.root / "prefect-login"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def role_arn(self, account_id: str, role: str = SANDBOX_ROLE_NAME) -> str:
        return f"arn:aws:iam::{account_id}:role/{role}"

    def save(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / "state.json"
        data = self.model_dump(mode="json")
        data["mariadb_password"] = self.mariadb_password.get_secret_value()
        data["prefect_login"] = self.prefect_login.get_secret_value()
        data["postgres_password"] = self.postgres_password.get_secret_value()
        for stage, registry in self.registries.items():
            data["registries"][stage]["password"] = registry.password.get_secret_value()
        write_private(path, json.dumps(data, indent=2))
        write_private(self.prefect_login_file, self.prefect_login.get_secret_value() + "\n")

    @classmethod
    def load(cls, root: Path) -> SandboxState | None:
        path = root / "state.json"
        if not path.is_file():
            return None
        return cls.model_validate_json(path.read_text())


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600 (created so: it is never readable by others, even for a moment)."""
    fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    path.with_suffix(".tmp").replace(path)


def sandbox_dir() -> Path:
    """``$CLOUDOPS_SANDBOX_DIR``, or ``.sandbox`` in the current folder."""
    return Path(os.environ.get(SANDBOX_DIR_ENV, DEFAULT_SANDBOX_DIR)).absolute()
