"""The tests' Prefect server on PostgreSQL: Prefect's own test harness (prefect.testing.utilities.
prefect_test_harness) with the sandbox's PostgreSQL part as its database instead of a SQLite file.

Which database the session's server uses is ``CLOUDOPS_TEST_PREFECT_DATABASE`` (``postgresql``, the default, or
``sqlite``: Prefect's harness as it comes); the sandbox's servers in the tests have their own
(sandbox/sandbox_tests/test_postgres.py).
"""

from __future__ import annotations

import inspect
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from urllib.parse import quote_plus, unquote_plus, urlsplit

import prefect.context
from prefect.logging.handlers import APILogWorker
from prefect.server.api.server import SubprocessASGIServer
from prefect.server.database.dependencies import temporary_database_interface
from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_DATABASE_CONNECTION_URL, temporary_settings
from prefect.testing.utilities import prefect_test_harness
from prefect.utilities.asyncutils import run_coro_as_sync

from cloudops.netutil import free_port
from cloudops.settings import Settings
from sandbox import postgres
from sandbox.sandbox import Sandbox
from sandbox.state import PrefectDatabase

DATABASE_ENV = "CLOUDOPS_TEST_PREFECT_DATABASE"


def chosen_database() -> PrefectDatabase:
    chosen = os.environ.get(DATABASE_ENV, "postgresql")
    if chosen not in ("sqlite", "postgresql"):
        raise ValueError(f"{DATABASE_ENV}={chosen!r}: give sqlite or postgresql")
    return "postgresql" if chosen == "postgresql" else "sqlite"


@contextmanager
def harness(settings: Settings, startup_timeout: int = 180) -> Iterator[None]:
    """A Prefect server for the session, on the database ``CLOUDOPS_TEST_PREFECT_DATABASE`` names."""
    if chosen_database() == "sqlite":
        with prefect_test_harness(server_startup_timeout=startup_timeout):
            yield
        return
    with (
        postgres_server(settings) as url,
        temporary_database_interface(),
        _server(url, startup_timeout) as api_url,
        temporary_settings(updates={PREFECT_API_URL: api_url}),
        # each manager is made once the one before is entered: this one keeps the settings with the API's URL
        prefect.context._temporary_global_settings_context(prefect.context.get_settings_context()),
    ):
        yield
        run_coro_as_sync(_drain_logs())


@contextmanager
def _server(url: str, startup_timeout: int) -> Iterator[str]:
    """Prefect's own subprocess server on the database at ``url``, registered as the harness registers its own
    (so that flows find it instead of starting one); its API's URL."""
    with temporary_settings(updates={PREFECT_SERVER_DATABASE_CONNECTION_URL: url}):
        server = SubprocessASGIServer(port=free_port())
        prior = SubprocessASGIServer._instances.get(None)
        SubprocessASGIServer._instances[None] = server
        server.start(timeout=startup_timeout)
        try:
            yield server.api_url
        finally:
            server.stop()
            if prior is not None:
                SubprocessASGIServer._instances[None] = prior
            else:
                SubprocessASGIServer._instances.pop(None, None)


async def _drain_logs() -> None:
    result = APILogWorker.instance().drain()
    if inspect.isawaitable(result):
        await result


@contextmanager
def postgres_server(settings: Settings) -> Iterator[str]:
    """The sandbox's PostgreSQL part in a folder of its own (one the server's user can reach); its database URL."""
    root = Path(tempfile.mkdtemp(prefix="cloudops-test-postgres-", dir="/tmp"))
    root.chmod(0o755)
    box = Sandbox(root, settings, auto_ports=True)
    box.configure(prefect_database="postgresql")
    try:
        box.up(["postgres"], report=lambda line: None)
        state = box.state
        password = quote_plus(state.postgres_password.get_secret_value())
        yield f"postgresql+asyncpg://{postgres.ROLE}:{password}@127.0.0.1:{state.postgres_port}/{postgres.DATABASE}"
    finally:
        box.down()
        shutil.rmtree(root, ignore_errors=True)


def dump(url: str, since: datetime | None = None) -> bytes:
    """The rows of the PostgreSQL database at ``url`` as text (values as stored): every row, or with ``since`` the
    rows written or updated since then (every table of Prefect's has ``updated``; one without is dumped whole)."""
    parts = urlsplit(url)
    connect = ["--host", parts.hostname or "", "--port", str(parts.port), "--username", parts.username or ""]
    env = {**os.environ, "PGPASSWORD": unquote_plus(parts.password or "")}
    database = parts.path.lstrip("/")
    if since is None:
        command = [postgres.binary("pg_dump"), "--data-only", *connect, database]
        return subprocess.run(command, capture_output=True, check=True, env=env).stdout
    psql = [postgres.binary("psql"), "--no-psqlrc", "--quiet", "--tuples-only", "--no-align", *connect, database]
    listing = "SELECT table_name, bool_or(column_name = 'updated') FROM information_schema.columns "
    listing += "WHERE table_schema = 'public' GROUP BY table_name ORDER BY table_name"
    tables = subprocess.run([*psql, "-c", listing], capture_output=True, check=True, env=env, text=True).stdout
    script = []
    for line in tables.splitlines():
        name, has_updated = line.split("|")
        where = f" WHERE updated >= '{since.isoformat()}'" if has_updated == "t" else ""
        script.append(f'COPY (SELECT * FROM public."{name}"{where}) TO STDOUT;')
    return subprocess.run(
        [*psql, "-f", "-"], input="\n".join(script).encode(), capture_output=True, check=True, env=env
    ).stdout
