"""The sandbox's Prefect server on PostgreSQL (Debian's, started by the sandbox as its user `postgres`), served by
several process workers: `cloudops sandbox up --prefect-database postgresql --workers N`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sandbox.state import SandboxState
from tests import prefect_harness
from tests.app_source import CONFIG_FILE
from tests.polling import eventually

CLOUDOPS = str(Path(sys.executable).parent / "cloudops")
PARTS = ["--part", "postgres", "--part", "prefect", "--part", "worker"]


def cloudops(*args: str, root: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}  # a new shell's
    env |= {"CLOUDOPS_SANDBOX_DIR": str(root), "CLOUDOPS_CONFIG_FILE": str(CONFIG_FILE)}
    return subprocess.run([CLOUDOPS, *args], capture_output=True, text=True, env=env, timeout=300, check=False)


@pytest.fixture
def reachable_root() -> Iterator[Path]:
    """A sandbox folder PostgreSQL's user can reach (pytest's own are closed to other users)."""
    root = Path(tempfile.mkdtemp(prefix="cloudops-pg-sandbox-", dir="/tmp"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        cloudops("sandbox", "down", "--purge", root=root)
        shutil.rmtree(root, ignore_errors=True)


def test_the_prefect_server_keeps_its_runs_in_postgresql_and_two_workers_serve_the_pool(reachable_root: Path) -> None:
    up = cloudops("sandbox", "up", "--auto-ports", *PARTS, "--prefect-database", "postgresql", "--workers", "2",
                  root=reachable_root)  # fmt: skip
    assert up.returncode == 0, up.stdout + up.stderr
    assert "postgres: started" in up.stdout
    status = cloudops("sandbox", "status", root=reachable_root)
    lines = {line.split()[0]: line for line in status.stdout.splitlines()}
    for part in ("postgres", "prefect", "worker:sandbox", "worker:sandbox-2"):
        assert " up " in lines[part], status.stdout
    assert "its runs in postgresql" in lines["prefect"]

    state = SandboxState.load(reachable_root)
    assert state is not None
    login = tuple(state.prefect_login.get_secret_value().split(":", 1))
    with httpx.Client(base_url=state.prefect_api_url, auth=login, timeout=30) as client:  # type: ignore[arg-type]

        def both_polling() -> set[str] | None:
            found = client.post("/work_pools/cloudops-local/workers/filter", json={}).json()
            names = {w["name"] for w in found}
            return names if {"sandbox", "sandbox-2"} <= names else None

        eventually("both workers polling the pool", both_polling, bound=120)
        flow = client.post("/flows/", json={"name": "kept-in-postgresql"}).json()
    # the server wrote it into PostgreSQL, and into no SQLite file
    url = f"postgresql+asyncpg://prefect:{state.postgres_password.get_secret_value()}@127.0.0.1:{state.postgres_port}/prefect"
    assert flow["id"].encode() in prefect_harness.dump(url)
    assert not list((reachable_root / "prefect").glob("*.db"))


@pytest.mark.reliability(
    "input",
    "`cloudops sandbox up --prefect-database postgresql` in a folder PostgreSQL's user cannot reach",
    "refused before anything starts, naming the closed folder and the fix (chmod o+x, or CLOUDOPS_SANDBOX_DIR)",
)
def test_a_folder_postgresql_cannot_reach_is_named_with_the_fix(tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    shown = cloudops("sandbox", "up", "--auto-ports", "--part", "postgres", "--prefect-database", "postgresql",
                     root=closed / "sandbox")  # fmt: skip
    assert shown.returncode != 0
    assert "cannot reach its data" in shown.stderr and "chmod o+x" in shown.stderr, shown.stderr
    assert "Traceback" not in shown.stderr
