"""Commands that run flows in this process (build, promote, release, rollback).

Their runs send no heartbeat unless PREFECT_FLOWS_HEARTBEAT_FREQUENCY is set. Heartbeats are for the
crash automations, which watch deployed runs (tagged ``cloudops``; a worker can start them again); a run
started from a terminal has its person watching it, and its watchdog (cli/run_watchdog.py) marks it Crashed
if the command's process dies. And each flow run's heartbeat thread costs its exit up to a second (Prefect
sleeps in whole seconds between beats): a release is a dozen flow runs.
"""

from __future__ import annotations

import atexit
import functools
import gc
import os
from collections.abc import Callable
from contextlib import ExitStack
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

HEARTBEAT_VARIABLE = "PREFECT_FLOWS_HEARTBEAT_FREQUENCY"
WATCHED = False  # see watch_runs

# After a release the interpreter's last garbage collections, at exit, walked the heap the run left for about
# 3 s on this machine. Frozen objects are not walked; the process is ending, so nothing is lost.
atexit.register(gc.freeze)


def runs_flows(command: Callable[P, R]) -> Callable[P, R]:
    """Run ``command`` with flow heartbeats off (unless the environment sets their frequency) and, when it runs
    as its own process, its flow runs watched: if the process is killed, they are marked Crashed
    (cli/run_watchdog.py)."""
    name = command.__name__.removesuffix("_command")

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with ExitStack() as stack:
            if WATCHED:
                from prefect import tags

                from cli import run_watchdog

                stack.enter_context(tags(run_watchdog.start(name)))
            if not os.environ.get(HEARTBEAT_VARIABLE):
                from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

                stack.enter_context(temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}))
            return command(*args, **kwargs)

    return wrapper


def watch_runs() -> None:
    """From now on, commands that run flows start a watchdog (the ``cloudops`` command's own process calls this;
    a command invoked inside another program, a test's CliRunner, is not its own process)."""
    global WATCHED
    WATCHED = True
