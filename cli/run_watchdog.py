"""The watchdog of a command that runs flows in its own process (build, promote, release, rollback).

A flow run started from a terminal lives in the command's process: killed (SIGKILL, the terminal closed, the
machine's OOM killer), the process cannot report it, and it would stay Running in the UI for ever. Such a run
sends no heartbeat either (see cli/in_process.py). So the command starts this watchdog, a small process of its
own session, and tags every flow run it creates; when the command's process ends, the watchdog marks each of
those runs that has not finished Crashed, naming the command. A command that ended normally left none.

The watchdog also releases the slot of a stage such a run held (the slot's holder variable names the run and its
lease: flows/runtime/stage_slot.py), so the stage is free at once rather than when the lease lapses. A run whose
whole machine died is not marked: its watchdog died with it (its lease lapses all the same).

Run as ``python -m cli.run_watchdog <pid> <tag> <command>``; it imports Prefect only once the command has ended.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import uuid
from contextlib import suppress
from typing import TYPE_CHECKING
from uuid import UUID

from cloudops.stage_slots import HOLDER_SUFFIX, LIMIT_PREFIX

if TYPE_CHECKING:
    from prefect.client.orchestration import SyncPrefectClient

TAG_PREFIX = "cloudops-cli-"
UNFINISHED = ("SCHEDULED", "PENDING", "RUNNING", "PAUSED", "CANCELLING")


def start(command: str) -> str:
    """Start the watchdog of this process; the tag to give the flow runs it is to watch."""
    from prefect.settings import PREFECT_API_URL, get_current_settings

    tag = f"{TAG_PREFIX}{uuid.uuid4().hex[:12]}"
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value() or "")}
    if (login := get_current_settings().api.auth_string) is not None:  # from a Prefect profile, say, or the harness
        env["PREFECT_API_AUTH_STRING"] = login.get_secret_value()
    subprocess.Popen(
        [sys.executable, "-m", "cli.run_watchdog", str(os.getpid()), tag, command],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a Ctrl-C or a kill of the command's process group does not reach it
        close_fds=True,
    )
    return tag


def wait_for_exit(pid: int) -> None:
    """Return once process ``pid`` has ended (at once when it has already)."""
    try:
        descriptor = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        select.select([descriptor], [], [])
    finally:
        os.close(descriptor)


def crash_unfinished(tag: str, pid: int, command: str) -> list[str]:
    """Mark Crashed every run tagged ``tag`` that has not finished; their names."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
        FlowRunFilterTags,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.states import Crashed

    message = (
        f"The `cloudops {command}` command (pid {pid}) that ran this flow run ended before it finished "
        "(killed, or its terminal closed); run the command again: every step converges"
    )
    crashed: list[str] = []
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                tags=FlowRunFilterTags(all_=[tag]),
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType(s) for s in UNFINISHED])),
            )
        )
        for run in runs:
            client.set_flow_run_state(run.id, Crashed(message=message), force=True)
            crashed.append(run.name)
        free_stages(client, {str(run.id) for run in runs})
    return crashed


def free_stages(client: SyncPrefectClient, crashed: set[str]) -> list[str]:
    """Release the stage slots the ``crashed`` runs held (each slot's holder variable names its run and lease),
    rather than leave their stages busy until the leases lapse; the stages freed."""
    from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError

    freed: list[str] = []
    for variable in client.read_variables():
        record = variable.value
        if not (variable.name.startswith(LIMIT_PREFIX) and variable.name.endswith(HOLDER_SUFFIX)):
            continue
        if isinstance(record, dict) and record.get("id") in crashed and isinstance(record.get("lease"), str):
            with suppress(ObjectNotFound, PrefectHTTPStatusError):  # the lease lapsed meanwhile
                client.release_concurrency_slots_with_lease(UUID(record["lease"]))
            client.delete_variable_by_name(variable.name)
            freed.append(variable.name.removeprefix(LIMIT_PREFIX).removesuffix(HOLDER_SUFFIX))
    return freed


def main(argv: list[str]) -> None:
    pid, tag, command = int(argv[0]), argv[1], argv[2]
    wait_for_exit(pid)
    crash_unfinished(tag, pid, command)


if __name__ == "__main__":
    main(sys.argv[1:])
