"""`cloudops sandbox down` while a flow run is in flight on the sandbox's worker: the worker and the run's process
stop promptly, the run is marked Crashed (it would show Running for ever), and the command says so and how to run
it again."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from sandbox.state import SandboxState
from tests.app_source import CONFIG_FILE
from tests.polling import eventually

CLOUDOPS = str(Path(sys.executable).parent / "cloudops")
REPO = Path(__file__).resolve().parents[2]


def cloudops(*args: str, root: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}  # a new shell's
    env |= {"CLOUDOPS_SANDBOX_DIR": str(root), "CLOUDOPS_CONFIG_FILE": str(CONFIG_FILE)}
    return subprocess.run([CLOUDOPS, *args], capture_output=True, text=True, env=env, timeout=300, check=False)


def processes_of_run(run_id: str) -> list[int]:
    """Pids whose environment names flow run ``run_id`` (a process worker's flow process has PREFECT__FLOW_RUN_ID)."""
    needle = f"PREFECT__FLOW_RUN_ID={run_id}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and needle in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def a_run_in_flight(client: httpx.Client) -> dict[str, str]:
    """A deployment of sandbox/sandbox_tests/waiting_flow.py on the sandbox's pool, and a run of it that its worker
    started."""
    flow = client.post("/flows/", json={"name": "waits"}).raise_for_status().json()
    deployment = {
        "name": "waits",
        "flow_id": flow["id"],
        "work_pool_name": "cloudops-local",
        "entrypoint": "sandbox/sandbox_tests/waiting_flow.py:waits",
        "pull_steps": [{"prefect.deployments.steps.set_working_directory": {"directory": str(REPO)}}],
    }
    deployment_id = client.post("/deployments/", json=deployment).raise_for_status().json()["id"]
    run = client.post(f"/deployments/{deployment_id}/create_flow_run", json={}).raise_for_status().json()

    def running() -> bool | None:
        state = client.get(f"/flow_runs/{run['id']}").json().get("state") or {}
        return True if state.get("type") == "RUNNING" and processes_of_run(run["id"]) else None

    eventually("the worker running the flow run", running, bound=180)
    return {"id": run["id"], "name": run["name"]}


def state_in_database(root: Path, run_id: str) -> tuple[str, str]:
    """The run's state type and message as the stopped server left them in its SQLite database."""
    (database,) = (root / "prefect").rglob("*.db")
    with sqlite3.connect(database) as db:
        row = db.execute(
            "SELECT state_type, flow_run_state.message FROM flow_run JOIN flow_run_state "
            "ON flow_run.state_id = flow_run_state.id WHERE flow_run.id = ?",
            (run_id,),
        ).fetchone()
    return row[0], row[1] or ""


@pytest.mark.reliability(
    "fault",
    "`cloudops sandbox down` while a flow run is in flight on the sandbox's worker",
    "the worker and the run's process stop within seconds; the run is marked Crashed, not left Running, and the "
    "command names it and how to run it again",
)
def test_down_stops_a_run_in_flight_promptly_and_says_what_became_of_it(tmp_path: Path) -> None:
    root = tmp_path / "box"
    try:
        up = cloudops("sandbox", "up", "--auto-ports", "--part", "prefect", "--part", "worker", root=root)
        assert up.returncode == 0, up.stdout + up.stderr
        state = SandboxState.load(root)
        assert state is not None
        login = tuple(state.prefect_login.get_secret_value().split(":", 1))
        with httpx.Client(base_url=state.prefect_api_url, auth=login, timeout=30) as client:  # type: ignore[arg-type]
            run = a_run_in_flight(client)

        down = cloudops("sandbox", "down", root=root)

        assert down.returncode == 0, down.stdout + down.stderr
        assert f"flow run {run['name']!r} ({run['id']}) on pool cloudops-local was running" in down.stdout
        assert f"prefect flow-run retry {run['id']}" in down.stdout
        assert processes_of_run(run["id"]) == []
        state_type, message = state_in_database(root, run["id"])
        assert (state_type, "cloudops sandbox down" in message) == ("CRASHED", True)
    finally:
        cloudops("sandbox", "down", "--purge", root=root)
