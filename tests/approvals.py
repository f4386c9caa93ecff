"""Answering a paused await-approval run as a person does: found on the server, answered from another process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
from prefect.client.schemas.objects import StateType
from prefect.settings import PREFECT_API_URL


def paused_run(known: set[str], timeout: float = 60) -> str:
    """The id of a paused await-approval run not in ``known`` (added to it)."""
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
                )
            )
            for run in runs:
                key = f"{run.id}:{run.state.state_details.pause_key if run.state else ''}"
                if key not in known:
                    known.add(key)
                    return str(run.id)
            time.sleep(0.3)
    raise AssertionError("no paused approval run appeared")


def answer_from_another_process(run_id: str, **answer: str) -> None:
    code = (
        "import json, sys, uuid; from prefect import resume_flow_run; "
        "resume_flow_run(uuid.UUID(sys.argv[1]), run_input=json.loads(sys.argv[2]))"
    )
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    result = subprocess.run(
        [sys.executable, "-c", code, run_id, json.dumps(answer)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
