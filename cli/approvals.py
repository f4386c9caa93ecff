"""`cloudops approve` / `cloudops reject`: answer a paused await-approval run from the command line."""

from __future__ import annotations

from prefect import resume_flow_run
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType

from cloudops.errors import CloudOpsError


def answer_waiting_run(version: str, stage: str, answer: dict[str, str]) -> str:
    """Resume the paused await-approval run of ``version`` in ``stage`` with ``answer``; its id."""
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["await-approval"])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
            ),
        )
    waiting = [
        run
        for run in runs
        if run.parameters.get("stage") == stage and run.parameters.get("version") in (version, "latest")
    ]
    if not waiting:
        raise CloudOpsError(
            f"no await-approval run is waiting for {version} in {stage}; start one (the await-approval deployment) "
            "or check the version and stage"
        )
    run = waiting[0]
    resume_flow_run(run.id, run_input=answer)
    return str(run.id)
