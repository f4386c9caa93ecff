"""A flow shaped like a release's bookkeeping, for bench/prefect_db_bench.py: subflows of tasks that do nothing,
so the run's time is what the Prefect server takes to record it. Run as ``python bench/prefect_load_flow.py N``."""

from __future__ import annotations

import sys

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

SUBFLOWS, TASKS = 4, 10


@task(cache_policy=NO_CACHE)
def step(number: int) -> int:
    return number


@flow
def stage(number: int) -> int:
    return sum(step(n) for n in range(TASKS)) + number


@flow
def bookkeeping(index: int) -> int:
    return sum(stage(n) for n in range(SUBFLOWS)) + index


if __name__ == "__main__":
    bookkeeping(int(sys.argv[1]))
