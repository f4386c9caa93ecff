"""Commands that run flows in this process (build, promote, release, rollback).

Their runs send no heartbeat unless PREFECT_FLOWS_HEARTBEAT_FREQUENCY is set. Heartbeats are for the
crash automations, which watch deployed runs (tagged ``cloudops``; a worker can start them again); a run
started from a terminal has its person watching it. And each flow run's heartbeat thread costs its exit
up to a second (Prefect sleeps in whole seconds between beats): a release is a dozen flow runs.
"""

from __future__ import annotations

import atexit
import functools
import gc
import os
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

HEARTBEAT_VARIABLE = "PREFECT_FLOWS_HEARTBEAT_FREQUENCY"

# After a release the interpreter's last garbage collections, at exit, walked the heap the run left for about
# 3 s on this machine. Frozen objects are not walked; the process is ending, so nothing is lost.
atexit.register(gc.freeze)


def runs_flows(command: Callable[P, R]) -> Callable[P, R]:
    """Run ``command`` with flow heartbeats off, unless the environment sets their frequency."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if os.environ.get(HEARTBEAT_VARIABLE):
            return command(*args, **kwargs)
        from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

        with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            return command(*args, **kwargs)

    return wrapper
