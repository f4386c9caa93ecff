"""`cloudops logs STAGE [SERVICE]`: the lines a stage's tasks logged to CloudWatch Logs, and (with --follow) the
lines they log next, until Ctrl-C."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated

import typer

from cli.options import ConfigFile
from cloudops.settings import config_path, load_settings

POLL_SECONDS = 2.0


def logs_command(
    stage: Annotated[str, typer.Argument(help="The stage whose tasks' logs to show.")],
    service: Annotated[
        str | None,
        typer.Argument(help="An environment (author), a container (app) or both (author/app); default: all."),
    ] = None,
    since: Annotated[str, typer.Option(help="How far back: a number and s, m, h or d.")] = "10m",
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines until Ctrl-C.")] = False,
    config: ConfigFile = None,
) -> None:
    """Print what the stage's tasks logged (time, stream, message), oldest first; --follow keeps printing."""
    from blocks.stage_accounts import load_stage_account
    from cloudops.task_logs import LogTail, TaskLogLine, parse_since, queries_for

    back = parse_since(since)
    settings = load_settings(config or config_path())
    application = settings.require_application().name
    settings.stage(stage)
    account = load_stage_account(settings, stage).session()
    queries = queries_for(account, application, stage, service)
    start = datetime.now(UTC) - back
    tail = LogTail(account, queries, int(start.timestamp() * 1000))

    def show(lines: list[TaskLogLine]) -> None:
        for line in lines:
            when = datetime.fromtimestamp(line.event.timestamp / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
            typer.echo(f"{when}  {line.environment}/{line.event.stream}  {line.event.message}")

    show(tail.read())
    try:
        while follow:
            time.sleep(POLL_SECONDS)
            show(tail.read())
    except KeyboardInterrupt:
        pass
