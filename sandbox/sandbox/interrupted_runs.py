"""The flow runs a `cloudops sandbox down` interrupts: found before the workers stop, marked Crashed after.

A process worker stopped by SIGTERM stops its runs' processes, but reports nothing about them: each would show
Running for ever (no heartbeat reaches a server that is going down too). So `down` asks the server which runs of
the sandbox's pools are in flight, stops the workers, then marks each of those still not final Crashed, saying why
and how to run it again. Through the server's REST API: this module does not import Prefect.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from sandbox.state import SandboxState

IN_FLIGHT = ["PENDING", "RUNNING", "CANCELLING"]
FINAL = {"COMPLETED", "FAILED", "CANCELLED", "CRASHED"}
TIMEOUT = 10.0


@dataclass(frozen=True)
class InterruptedRun:
    id: str
    name: str
    pool: str

    def line(self) -> str:
        return (
            f"flow run {self.name!r} ({self.id}) on pool {self.pool} was running: stopped with its worker and marked "
            f"Crashed; after `cloudops sandbox up`, run it again with `prefect flow-run retry {self.id}`"
        )


def _client(state: SandboxState) -> httpx.Client:
    user, _, password = state.prefect_login.get_secret_value().partition(":")
    return httpx.Client(base_url=state.prefect_api_url, auth=(user, password), timeout=TIMEOUT)


def runs_in_flight(state: SandboxState, pools: Sequence[str]) -> list[InterruptedRun]:
    """The runs of ``pools`` that are pending or running now (none when the server does not answer)."""
    body = {
        "flow_runs": {"state": {"type": {"any_": IN_FLIGHT}}},
        "work_pools": {"name": {"any_": list(pools)}},
        "limit": 200,
    }
    try:
        with _client(state) as client:
            answer = client.post("/flow_runs/filter", json=body)
            answer.raise_for_status()
    except httpx.HTTPError:
        return []
    return [InterruptedRun(r["id"], r["name"], r.get("work_pool_name") or "?") for r in answer.json()]


def mark_crashed(state: SandboxState, runs: Sequence[InterruptedRun]) -> list[InterruptedRun]:
    """Mark Crashed each of ``runs`` that its stopped worker left in flight; the runs so marked."""
    marked = []
    with _client(state) as client:
        for run in runs:
            try:
                found = client.get(f"/flow_runs/{run.id}")
                found.raise_for_status()
                if (found.json().get("state") or {}).get("type") in FINAL:
                    continue  # it ended on its own as its worker stopped
                crashed = {
                    "type": "CRASHED",
                    "name": "Crashed",
                    "message": "Interrupted by `cloudops sandbox down`: its worker was stopped while it ran",
                }
                client.post(f"/flow_runs/{run.id}/set_state", json={"state": crashed, "force": True}).raise_for_status()
            except httpx.HTTPError:
                continue
            marked.append(run)
    return marked
