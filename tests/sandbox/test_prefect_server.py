"""The sandbox's Prefect server takes a subflow's task run while the flow's task runs are being recorded.

A flow's task runs reach the server as events (its task-run recorder writes them); the tracking task run of its
next subflow is created through the API at the same moment. Prefect's own server on SQLite refuses one of the two
writes (503, "database is locked") and the client waits 2 s before asking again: measured before most subflows
of a release. The sandbox starts it through sandbox/prefect_server_fixes.py, where the second write waits
for the first instead.
"""

from __future__ import annotations

import uuid

import httpx
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.settings import PREFECT_API_URL, PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

from tests.ui_servers import UiServer


@task(cache_policy=NO_CACHE)
def noop() -> None:
    return None


def test_a_task_run_created_while_task_runs_are_recorded_is_not_refused(ui_server: UiServer) -> None:
    @flow
    def tasks_then_a_task_run() -> list[int]:
        statuses = []
        with httpx.Client(base_url=ui_server.api_url) as client:
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

    with temporary_settings(updates={PREFECT_API_URL: ui_server.api_url, PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        statuses = tasks_then_a_task_run()

    assert statuses == [201] * 8
