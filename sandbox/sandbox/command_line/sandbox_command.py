"""`cloudops sandbox ...`: the local sandbox of real servers on 127.0.0.1 standing in for AWS. The only commands
that use the sandbox package (besides the check in cli/prefect_server.py that says when its server is up)."""

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cli.friendly import friendly
from cli.options import ConfigFile
from cloudops.errors import CloudOpsError
from cloudops.settings import config_path, load_settings
from sandbox.sandbox import PARTS, Sandbox
from sandbox.state import sandbox_dir

sandbox_app = typer.Typer(
    help="The local sandbox: real servers on 127.0.0.1 standing in for AWS.", no_args_is_help=True
)


class PrefectDatabaseChoice(StrEnum):
    sqlite = "sqlite"
    postgresql = "postgresql"


SandboxDir = Annotated[
    Path | None,
    typer.Option("--dir", help="The sandbox folder [default: $CLOUDOPS_SANDBOX_DIR or ./.sandbox]."),
]


def _sandbox(directory: Path | None, config: Path | None, auto_ports: bool = False) -> Sandbox:
    return Sandbox(directory or sandbox_dir(), load_settings(config or config_path()), auto_ports=auto_ports)


@sandbox_app.command("up")
@friendly
def sandbox_up(
    directory: SandboxDir = None,
    config: ConfigFile = None,
    auto_ports: Annotated[bool, typer.Option(help="Pick free ports instead of the defaults.")] = False,
    parts: Annotated[
        list[str] | None, typer.Option("--part", help=f"Start only these parts ({', '.join(PARTS)}).")
    ] = None,
    prefect_database: Annotated[
        PrefectDatabaseChoice | None,
        typer.Option(
            help="Where the Prefect server keeps its runs: a SQLite file, or a PostgreSQL server of the sandbox's "
            "own [default: what the sandbox had, sqlite at first]."
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(help="How many process workers serve the work pool [default: what the sandbox had, 1 at first]."),
    ] = None,
    ecs_pool: Annotated[
        bool,
        typer.Option(
            help="Also build the flow-runner image and start prefect-aws's ECS worker on the cloudops-ecs pool: its "
            "flow runs become ECS tasks of the build account (kept for the next `up`)."
        ),
    ] = False,
) -> None:
    """Start the sandbox (harmless when it runs), initialise every account, save the credential blocks."""
    started = time.monotonic()
    chosen = parts or list(PARTS)
    if ecs_pool and not {"moto", "registries", "docker", "prefect", "worker"} <= set(chosen):
        raise typer.BadParameter("--ecs-pool needs the moto, registries, docker, prefect and worker parts")
    sandbox = _sandbox(directory, config, auto_ports)
    sandbox.configure(prefect_database.value if prefect_database else None, workers)
    sandbox.up(chosen, report=lambda line: typer.echo(f"  {line}"))
    if "moto" in chosen:
        from cloudops.bootstrap import BucketOutsideBootstrapError

        try:
            sandbox.initialise_accounts(report=lambda line: typer.echo(f"  {line}"))
        except BucketOutsideBootstrapError as error:
            raise CloudOpsError(
                f"{error} (this sandbox was made by a cloudops from before `cloudops accounts bootstrap`: start it "
                "afresh with `cloudops sandbox down --purge`, then `cloudops sandbox up`)"
            ) from None
    if "prefect" in chosen and "moto" in chosen:
        from sandbox.command_line.sandbox_blocks import save_sandbox_blocks_in_its_server

        saved = save_sandbox_blocks_in_its_server(sandbox)
        typer.echo(f"  blocks saved in Prefect: {', '.join(f'{s}={b}' for s, b in saved.items())}")
    if ecs_pool:
        from sandbox.command_line.sandbox_ecs_pool import set_up_ecs_pool

        set_up_ecs_pool(sandbox, config or config_path(), report=lambda line: typer.echo(f"  {line}"))
    typer.echo(f"sandbox up in {time.monotonic() - started:.1f} s ({sandbox.root})")
    if "prefect" in chosen:
        typer.echo(f"Prefect UI: {sandbox.state.prefect_api_url.removesuffix('/api')}")
    typer.echo('use it from a shell with: eval "$(cloudops sandbox env)"')


@sandbox_app.command("down")
@friendly
def sandbox_down(
    directory: SandboxDir = None,
    config: ConfigFile = None,
    purge: Annotated[bool, typer.Option(help="Also delete the sandbox's data.")] = False,
) -> None:
    """Stop every part of the sandbox; no process is left behind."""
    sandbox = _sandbox(directory, config)
    if purge:
        sandbox.purge()
        typer.echo(f"sandbox stopped and {sandbox.root} deleted")
        return
    stopped = sandbox.down()
    for run in stopped.interrupted:
        typer.echo(run.line())
    leftovers = stopped.leftovers
    typer.echo("sandbox stopped" + (f" (and {len(leftovers)} stray process(es) killed)" if leftovers else ""))
    typer.echo(
        f"its state is kept in {sandbox.root} (the accounts' resources, registries, databases): `cloudops sandbox up` "
        "brings the stages back; `cloudops sandbox down --purge` deletes it"
    )


@sandbox_app.command("status")
@friendly
def sandbox_status(directory: SandboxDir = None, config: ConfigFile = None) -> None:
    """Whether each part answers; exits 0 only when every part does."""
    sandbox = _sandbox(directory, config)
    rows = sandbox.status()
    width = max(len(row.name) for row in rows)
    for row in rows:
        typer.echo(f"{row.name:<{width}}  {'up  ' if row.answers else 'DOWN'}  {row.address}")
    if not all(row.answers for row in rows):
        raise typer.Exit(1)


@sandbox_app.command("env")
@friendly
def sandbox_env(directory: SandboxDir = None, config: ConfigFile = None) -> None:
    """Print the export lines a shell needs to use the sandbox (no password is printed)."""
    for line in _sandbox(directory, config).env_lines():
        typer.echo(line)
