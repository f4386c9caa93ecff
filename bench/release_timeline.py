"""Where a release's time went: the tree of its subflows and tasks, read back from the Prefect server of
$PREFECT_API_URL, each with when it started (seconds after the release run started) and how long it took.

Run by hand:  uv run python bench/release_timeline.py [--nth N] [--flow NAME]   (N: 1 the newest run, 2 the one before)
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from datetime import datetime
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterStartTime,
)
from prefect.client.schemas.objects import FlowRun, TaskRun
from prefect.client.schemas.sorting import FlowRunSort


def release_graph(
    nth: int, name: str = "release", oldest: bool = False
) -> tuple[FlowRun, list[FlowRun], list[TaskRun]]:
    """The ``nth`` newest (or oldest) run of flow ``name`` (a release), every flow run started while it ran, and
    their task runs."""
    order = FlowRunSort.START_TIME_ASC if oldest else FlowRunSort.START_TIME_DESC
    with get_client(sync_client=True) as client:
        roots = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=[name])), sort=order, limit=nth)
        if len(roots) < nth:
            raise SystemExit(f"there are {len(roots)} {name} runs on this server, not {nth}")
        root = roots[nth - 1]
        assert root.start_time and root.end_time, "the release run has not finished"
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                start_time=FlowRunFilterStartTime(after_=root.start_time, before_=root.end_time)
            ),
            limit=200,
        )
        tasks: list[TaskRun] = []
        for offset in range(0, 5000, 200):
            page = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[r.id for r in runs])), limit=200, offset=offset
            )
            tasks += page
            if len(page) < 200:
                break
    return root, runs, tasks


def seconds(at: datetime | None, since: datetime) -> float:
    return (at - since).total_seconds() if at else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--nth", type=int, default=1)
    parser.add_argument("--flow", default="release", help="the flow of the run at the top (noop-release: a replay)")
    arguments = parser.parse_args()
    root, runs, tasks = release_graph(arguments.nth, arguments.flow)
    assert root.start_time
    zero = root.start_time
    tasks_of: dict[UUID, list[TaskRun]] = defaultdict(list)
    for t in tasks:
        if t.flow_run_id:
            tasks_of[t.flow_run_id].append(t)
    child_of = {r.parent_task_run_id: r for r in runs if r.parent_task_run_id}

    def show(run: FlowRun, depth: int) -> None:
        start, end = seconds(run.start_time, zero), seconds(run.end_time, zero)
        print(f"{start:7.2f} {end - start:7.2f}  {'  ' * depth}{run.name} [flow]")
        for step in sorted(tasks_of[run.id], key=lambda t: t.start_time or t.expected_start_time or t.created or zero):
            child = child_of.get(step.id)
            if child is not None:
                show(child, depth + 1)
                continue
            t0, t1 = seconds(step.start_time, zero), seconds(step.end_time, zero)
            print(f"{t0:7.2f} {t1 - t0:7.2f}  {'  ' * (depth + 1)}{step.name}")

    print("  start  length  (seconds from the release run's start)")
    show(root, 0)
    print(f"{len(runs)} flow runs, {len(tasks)} task runs")


if __name__ == "__main__":
    main()
