"""The sandbox's Prefect server takes a subflow's task run while the flow's task runs are being recorded.

A flow's task runs reach the server as events (its task-run recorder writes them); the tracking task run of its
next subflow is created through the API at the same moment. Prefect's own server on SQLite refuses one of the two
writes (503, "database is locked") and the client waits 2 s before asking again: measured before most subflows
of a release. The sandbox starts it through sandbox/sandbox/prefect_server_fixes.py, where the second write waits
for the first instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

from tests.ui_servers import UiServer


@task(cache_policy=NO_CACHE)
def noop() -> None:
    return None


def test_a_task_run_created_while_task_runs_are_recorded_is_not_refused(ui_server: UiServer) -> None:
    @flow
    def tasks_then_a_task_run() -> list[int]:
        statuses = []
        with httpx.Client(base_url=ui_server.api_url, auth=ui_server.basic_auth()) as client:
            for _ in range(8):
                noop()
                noop()
                created = client.post(
                    "/task_runs/",
                    json={
                        "name": "probe",
                        "task_key": "probe",
                        "dynamic_key": uuid.uuid4().hex,
                        "flow_run_id": flow_run.get_id(),
                    },
                )
                statuses.append(created.status_code)
        return statuses

    with temporary_settings(updates={**ui_server.client_settings(), PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        statuses = tasks_then_a_task_run()

    assert statuses == [201] * 8


@pytest.mark.reliability(
    "input",
    "a call to the sandbox's Prefect server without its login, or with a wrong one",
    "refused with 401 Unauthorized; the command line says which login to set; /health stays open",
)
def test_the_sandbox_prefect_server_asks_every_client_for_its_login(ui_server: UiServer) -> None:
    with httpx.Client(base_url=ui_server.api_url) as anyone:
        assert anyone.get("/health").status_code == 200
        assert anyone.post("/flow_runs/filter", json={}).status_code == 401
        assert anyone.post("/flow_runs/filter", json={}, auth=("cloudops", "guessed")).status_code == 401
        assert anyone.post("/flow_runs/filter", json={}, auth=ui_server.basic_auth()).status_code == 200

    # the command line, pointed at the server without the login, says so in one line
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_AUTH_STRING"}
    env["PREFECT_API_URL"] = ui_server.api_url
    shown = subprocess.run(
        [sys.executable, "-c", "from cli.main import main; main()", "blocks", "register"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert shown.returncode == 1, shown.stderr
    assert shown.stderr.startswith(f"error: the Prefect server at {ui_server.ui_url}/ refuses this shell (401")
    assert "Traceback" not in shown.stderr
