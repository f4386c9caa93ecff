"""The run at the top of the current flow run's tree: the run this process was started for.

Prefect's ``flow_run.get_root_flow_run_id`` walks the tree up from the top every time, two API calls per
level, for every subflow (about 2 s of a release's run). Here each run's root is remembered, so the root
run costs no call and each subflow one: the read of its tracking task run, whose flow run is known.
"""

from __future__ import annotations

from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext
from prefect.runtime import flow_run

# flow run id -> the id of its tree's root run; cleared when full (a long-lived process runs many trees)
_roots: dict[str, str] = {}
REMEMBERED = 4096


def root_run_id() -> str | None:
    """The id of the root of the current flow run's tree; None outside a flow run."""
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return flow_run.get_id()  # a task run outside a flow is its own tree
    run = context.flow_run
    run_id = str(run.id)
    if run_id in _roots:
        return _roots[run_id]
    return _find_root(run_id, run.parent_task_run_id)


def _find_root(run_id: str, parent_task_run_id: UUID | None) -> str:
    chain: list[str] = []
    current, parent_task = run_id, parent_task_run_id
    if parent_task is not None:
        with get_client(sync_client=True) as client:
            while current not in _roots and parent_task is not None:
                chain.append(current)
                parent = client.read_task_run(parent_task).flow_run_id
                if parent is None:  # a tracking task run without a flow run: this run is the top
                    break
                current = str(parent)
                if current not in _roots:
                    parent_task = client.read_flow_run(parent).parent_task_run_id
    root = _roots.get(current, current)
    if len(_roots) >= REMEMBERED:
        _roots.clear()
    for member in (*chain, current):
        _roots[member] = root
    return root
