"""The Prefect server a command talks to: a shell that has not taken up the running sandbox is told how.

Without PREFECT_API_URL (from the environment or a Prefect profile) Prefect starts a temporary server of its
own, with none of the sandbox's blocks, runs or approvals. When the sandbox is up, that is never what the
person meant: the command stops at once and says how to use the sandbox instead.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import httpx

from cloudops.errors import CloudOpsError
from cloudops.sandbox.state import SandboxState, sandbox_dir

P = ParamSpec("P")
R = TypeVar("R")


def running_sandbox_api() -> str | None:
    """The API address of the sandbox's Prefect server, when the sandbox folder has one that answers."""
    state = SandboxState.load(sandbox_dir())
    if state is None:
        return None
    try:
        httpx.get(f"{state.prefect_api_url}/health", timeout=2).raise_for_status()
    except httpx.HTTPError:
        return None
    return state.prefect_api_url


def check_prefect_server() -> None:
    """Stop with a clear error when no Prefect server is set but the sandbox's is up."""
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value():
        return
    api = running_sandbox_api()
    if api is not None:
        raise CloudOpsError(
            f"this shell has no Prefect server set (PREFECT_API_URL), while the sandbox's answers at {api}: "
            'use the sandbox with `eval "$(uv run cloudops sandbox env)"` and run the command again '
            "(or set PREFECT_API_URL to the server you mean)"
        )


def needs_prefect_server(command: Callable[P, R]) -> Callable[P, R]:
    """Run ``command`` after check_prefect_server (inside ``friendly``, which prints its error)."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        check_prefect_server()
        return command(*args, **kwargs)

    return wrapper
