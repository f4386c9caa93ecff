"""A PostgreSQL server (Debian's ``postgresql``) with its data in the sandbox folder: the Prefect server's database
when the sandbox runs it on PostgreSQL (``cloudops sandbox up --prefect-database postgresql``).

PostgreSQL refuses to run as root, so its server and ``initdb`` run as Debian's ``postgres`` user, which owns the
data folder (mode 0700). It listens on 127.0.0.1 only, with no Unix socket; the role ``prefect`` logs in with the
sandbox's generated password (scram-sha-256) and owns the database ``prefect``.
"""

from __future__ import annotations

import asyncio
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints

from sandbox.errors import SandboxError
from sandbox.processes import spawn
from sandbox.state import SandboxState

SERVER_USER = "postgres"  # Debian's postgresql package creates it
ROLE = DATABASE = "prefect"


def binary(name: str) -> str:
    """A PostgreSQL server program: Debian keeps them in /usr/lib/postgresql/<version>/bin, off the PATH."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(Path(p).parts[4]))
    if found:
        return found[-1]
    path = shutil.which(name)
    if path is None:
        raise SandboxError(f"PostgreSQL's {name} is not installed; run scripts/setup.sh (apt-get install postgresql)")
    return path


def _server_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise SandboxError(
            f"there is no {SERVER_USER!r} user (Debian's postgresql package creates it); run scripts/setup.sh"
        ) from None


def data_dir(state: SandboxState) -> Path:
    return state.root / "postgres" / "data"


def _reachable_by(user: pwd.struct_passwd, folder: Path) -> None:
    """The server's user must pass through every folder above its data folder."""
    for parent in [folder, *folder.parents]:
        if parent.exists() and os.stat(parent).st_uid != user.pw_uid and not os.stat(parent).st_mode & 0o001:
            raise SandboxError(
                f"PostgreSQL (user {user.pw_name}) cannot reach its data in {folder}: {parent} is closed to other "
                f"users; run `chmod o+x {parent}` or put the sandbox elsewhere (CLOUDOPS_SANDBOX_DIR)"
            )


def _initdb(state: SandboxState, user: pwd.struct_passwd) -> None:
    datadir = data_dir(state)
    datadir.mkdir(parents=True, exist_ok=True)
    os.chown(datadir.parent, user.pw_uid, user.pw_gid)
    os.chown(datadir, user.pw_uid, user.pw_gid)
    datadir.chmod(0o700)
    with tempfile.NamedTemporaryFile("w", dir=datadir.parent, prefix="pwfile-", delete=True) as pwfile:
        os.chown(pwfile.name, user.pw_uid, user.pw_gid)
        os.chmod(pwfile.name, 0o600)
        pwfile.write(state.postgres_password.get_secret_value() + "\n")
        pwfile.flush()
        result = subprocess.run(
            [
                binary("initdb"),
                f"--pgdata={datadir}",
                f"--username={ROLE}",
                f"--pwfile={pwfile.name}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
            ],
            capture_output=True,
            text=True,
            check=False,
            user=user.pw_uid,
            group=user.pw_gid,
            extra_groups=[],
            cwd=datadir.parent,
        )
    if result.returncode != 0:
        raise SandboxError(f"initdb failed in {datadir}:\n{result.stdout}\n{result.stderr}")


def start(state: SandboxState) -> int:
    user = _server_user()
    datadir = data_dir(state)
    _reachable_by(user, datadir.parent)
    if not (datadir / "PG_VERSION").is_file():
        _initdb(state, user)
    command = [
        binary("postgres"),
        "-D",
        str(datadir),
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        f"port={state.postgres_port}",
        "-c",
        "unix_socket_directories=",
        "-c",
        "max_connections=200",  # the Prefect server's pool, its workers' and the tests' (Prefect asks for 10+)
        "-c",
        "fsync=off",  # a sandbox: a crash of the machine may lose the last runs' records, never anyone's data
    ]
    return spawn(command, state.logs / "postgres.log", user=SERVER_USER, cwd=datadir.parent)


async def _ensure_database(state: SandboxState) -> bool:
    try:
        connection = await asyncpg.connect(
            host="127.0.0.1",
            port=state.postgres_port,
            user=ROLE,
            password=state.postgres_password.get_secret_value(),
            database="postgres",
            timeout=5,
        )
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return False
    try:
        if not await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE):
            await connection.execute(f'CREATE DATABASE "{DATABASE}" OWNER "{ROLE}"')
        return True
    finally:
        await connection.close()


def answers(state: SandboxState) -> bool:
    """Whether the server answers, its ``prefect`` database made (at the first answer)."""
    return asyncio.run(_ensure_database(state))


def prefect_database_env(state: SandboxState) -> dict[str, str]:
    """The Prefect server's database settings for this server (by parts: the password is never in a URL)."""
    return {
        "PREFECT_SERVER_DATABASE_DRIVER": "postgresql+asyncpg",
        "PREFECT_SERVER_DATABASE_HOST": "127.0.0.1",
        "PREFECT_SERVER_DATABASE_PORT": str(state.postgres_port),
        "PREFECT_SERVER_DATABASE_USER": ROLE,
        "PREFECT_SERVER_DATABASE_NAME": DATABASE,
        "PREFECT_SERVER_DATABASE_PASSWORD": state.postgres_password.get_secret_value(),
    }
