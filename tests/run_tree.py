"""A flow run's tree on the Prefect server: the run, its subflows' runs at every depth, and their task runs."""

from __future__ import annotations

from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, FlowRunFilterParentFlowRunId
from prefect.client.schemas.objects import TaskRun


def task_runs_under(root: UUID) -> list[TaskRun]:
    """Every task run of ``root`` and of the subflow runs under it, at any depth."""
    runs, frontier = [root], [root]
    tasks: list[TaskRun] = []
    with get_client(sync_client=True) as client:
        while frontier:
            children = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=frontier)),
                limit=200,
            )
            frontier = [run.id for run in children if run.id not in runs]
            runs += frontier
        for offset in range(0, 10_000, 200):
            page = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=runs)), limit=200, offset=offset
            )
            tasks += page
            if len(page) < 200:
                return tasks
    return tasks
