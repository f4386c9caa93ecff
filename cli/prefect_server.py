"""The Prefect server a command talks to: one must be set, and a shell that has not taken up the sandbox is told how.

Without PREFECT_API_URL (from the environment or a Prefect profile) Prefect would start a temporary server of
its own for the command: none of the sandbox's (or anyone's) blocks, runs or approvals, no UI to approve
in, and on its first start it often times out creating its database. So the command stops at once and
says which server to use: the sandbox's when it is up, or how to get one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from cli.plugins import prefect_api_hint
from cloudops.errors import CloudOpsError

P = ParamSpec("P")
R = TypeVar("R")


def check_prefect_server() -> None:
    """Stop with a clear error when no Prefect server is set, saying which one to use."""
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value():
        return
    api = prefect_api_hint()  # the sandbox's server, when the sandbox is installed and up
    if api is not None:
        raise CloudOpsError(
            f"this shell has no Prefect server set (PREFECT_API_URL), while the sandbox's answers at {api}: "
            'use the sandbox with `eval "$(uv run cloudops sandbox env)"` and run the command again '
            "(or set PREFECT_API_URL to the server you mean)"
        )
    raise CloudOpsError(
        "no Prefect server is set (PREFECT_API_URL): for the local sandbox run `uv run cloudops sandbox up`, "
        'then `eval "$(uv run cloudops sandbox env)"`; otherwise set PREFECT_API_URL to your Prefect server '
        "(`prefect server start`, or Prefect Cloud after `prefect cloud login`)"
    )


def needs_prefect_server(command: Callable[P, R]) -> Callable[P, R]:
    """Run ``command`` after check_prefect_server (inside ``friendly``, which prints its error)."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        check_prefect_server()
        return command(*args, **kwargs)

    return wrapper
