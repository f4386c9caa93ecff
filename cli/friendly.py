"""Our errors, printed as one clear message (exit 1) instead of a traceback; and a Prefect server's refusal of a
shell without its login."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import httpx
import typer

from cloudops.errors import CloudOpsError

P = ParamSpec("P")
R = TypeVar("R")


def friendly(command: Callable[P, R]) -> Callable[P, R]:
    """Print our errors as one clear message and exit 1, instead of a traceback."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except CloudOpsError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(1) from None
        except httpx.HTTPStatusError as error:
            if error.response.status_code != httpx.codes.UNAUTHORIZED:
                raise
            typer.echo(f"error: {unauthorized(error)}", err=True)
            raise typer.Exit(1) from None

    return wrapper


def unauthorized(error: httpx.HTTPStatusError) -> str:
    server = error.request.url.copy_with(path="/", query=None)
    return (
        f"the Prefect server at {server} refuses this shell (401 Unauthorized): it asks for a login, and "
        'PREFECT_API_AUTH_STRING is missing or wrong; for the sandbox use `eval "$(uv run cloudops sandbox env)"`, '
        "otherwise set PREFECT_API_AUTH_STRING (a Prefect server's) or PREFECT_API_KEY (Prefect Cloud's)"
    )
