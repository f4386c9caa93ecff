"""A MariaDB server (Debian's ``mariadb-server``) with its data in the sandbox folder.

It listens on 127.0.0.1 only; the user ``cloudops`` has the sandbox's generated password. In the
sandbox, an RDS instance (moto's API) points at a database of this server.
"""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pymysql

from sandbox.errors import SandboxError
from sandbox.processes import spawn
from sandbox.state import MYSQL_USER, SandboxState


def _binary(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if path is None:
        raise SandboxError(f"{name} is not installed; run scripts/setup.sh (apt-get install mariadb-server)")
    return path


def start(state: SandboxState) -> int:
    datadir = state.root / "mariadb" / "data"
    state.runtime_dir.mkdir(parents=True, exist_ok=True)
    if not (datadir / "mysql").is_dir():
        datadir.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [
                _binary("mariadb-install-db"),
                "--no-defaults",
                f"--datadir={datadir}",
                "--user=root",
                "--auth-root-authentication-method=socket",
                "--skip-test-db",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise SandboxError(f"mariadb-install-db failed in {datadir}:\n{result.stdout}\n{result.stderr}")
    password = state.mariadb_password.get_secret_value().replace("'", "''")
    init = state.root / "mariadb" / "init.sql"
    init.write_text(
        f"CREATE USER IF NOT EXISTS '{MYSQL_USER}'@'%' IDENTIFIED BY '{password}';\n"
        f"ALTER USER '{MYSQL_USER}'@'%' IDENTIFIED BY '{password}';\n"
        f"GRANT ALL PRIVILEGES ON *.* TO '{MYSQL_USER}'@'%' WITH GRANT OPTION;\n"
    )
    init.chmod(0o600)
    command = [
        _binary("mariadbd"),
        "--no-defaults",
        f"--datadir={datadir}",
        f"--port={state.mariadb_port}",
        "--bind-address=127.0.0.1",
        f"--socket={state.mariadb_socket}",
        f"--pid-file={state.runtime_dir / 'mariadb.pid'}",
        f"--init-file={init}",
        "--user=root",
        "--skip-name-resolve",
        "--innodb-buffer-pool-size=128M",
        "--max-allowed-packet=256M",
    ]
    return spawn(command, state.logs / "mariadb.log")


def connect(state: SandboxState, database: str | None = None) -> pymysql.connections.Connection[Any]:
    return pymysql.connect(
        host="127.0.0.1",
        port=state.mariadb_port,
        user=MYSQL_USER,
        password=state.mariadb_password.get_secret_value(),
        database=database,
        connect_timeout=5,
        autocommit=True,
    )


def answers(state: SandboxState) -> bool:
    try:
        connection = connect(state)
    except pymysql.Error:
        return False
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return bool(cursor.fetchone() == (1,))
    finally:
        connection.close()
