"""What other installed packages add to the `cloudops` command, found through entry points: the sandbox's
commands (`cloudops sandbox ...`, from the workspace member cloudops-sandbox) and its hint of a running Prefect
server. The product imports none of them by name: without the sandbox installed, `cloudops` has no `sandbox`
command and suggests no server of its.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points

import typer

COMMANDS = "cloudops.commands"  # name = a typer app, added as `cloudops <name> ...`
PREFECT_API_HINTS = "cloudops.prefect_api_hints"  # a callable: the API address of a Prefect server that answers


def add_commands(app: typer.Typer) -> None:
    """Add every installed package's commands to ``app``."""
    for entry in sorted(entry_points(group=COMMANDS), key=lambda e: e.name):
        commands = entry.load()
        if not isinstance(commands, typer.Typer):
            raise TypeError(f"entry point {entry.value} of {COMMANDS} is no typer app")
        app.add_typer(commands, name=entry.name)


def prefect_api_hint() -> str | None:
    """The API address of a Prefect server an installed package runs here (the sandbox's), if one answers."""
    for entry in sorted(entry_points(group=PREFECT_API_HINTS), key=lambda e: e.name):
        hint: Callable[[], str | None] = entry.load()
        api = hint()
        if api:
            return api
    return None
