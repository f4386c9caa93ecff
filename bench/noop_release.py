"""The orchestration overhead of a release: replay the flow graph of the first `release` run on the server of
$PREFECT_API_URL (every subflow and task run it had, nested the same way) with each task's work replaced
by a no-op, and print how long the replay took against the real run.

Run by bench/release_bench.py after its cold release. Tasks and subflows replay one after another, so the
figure is an upper bound of what Prefect adds (the real run overlaps some of them).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any
from uuid import UUID

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun, TaskRun
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
from release_timeline import release_graph  # beside this script


@task(cache_policy=NO_CACHE)
def noop() -> None:
    return None


def the_cold_release() -> tuple[FlowRun, list[FlowRun], list[TaskRun], dict[UUID, str]]:
    """The first release run on the server (the benchmark's cold one), its flow runs and task runs, and each
    flow run's flow name."""
    root, runs, tasks = release_graph(1, oldest=True)
    with get_client(sync_client=True) as client:
        names = {flow_id: client.read_flow(flow_id).name for flow_id in {r.flow_id for r in runs}}
    return root, runs, tasks, {r.id: names[r.flow_id] for r in runs}


def replica(
    run: FlowRun, tasks_of: dict[UUID, list[TaskRun]], child_of: dict[UUID, FlowRun], names: dict[UUID, str]
) -> Callable[[], Any]:
    steps = sorted(tasks_of[run.id], key=lambda t: str(t.expected_start_time or t.created))

    @flow(name=f"noop-{names[run.id]}", log_prints=False)
    def replay() -> None:
        for step in steps:
            child = child_of.get(step.id)
            if child is not None:
                replica(child, tasks_of, child_of, names)()  # its own wrapper task run stands for this one
            else:
                noop()

    return replay


def main() -> None:
    root, runs, tasks, names = the_cold_release()
    tasks_of: dict[UUID, list[TaskRun]] = defaultdict(list)
    for t in tasks:
        if t.flow_run_id:
            tasks_of[t.flow_run_id].append(t)
    child_of = {r.parent_task_run_id: r for r in runs if r.parent_task_run_id}
    replay = replica(root, tasks_of, child_of, names)
    # As `cloudops release` runs it: no heartbeat thread (see cli/in_process.py).
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        start = time.perf_counter()
        replay()
        elapsed = time.perf_counter() - start
    assert root.start_time and root.end_time
    real = (root.end_time - root.start_time).total_seconds()
    print(
        f"{len(runs)} flow runs and {len(tasks)} task runs replayed as no-ops in {elapsed:.1f} s "
        f"against {real:.1f} s of the real cold run: {elapsed / real:.1%}"
    )


if __name__ == "__main__":
    main()
