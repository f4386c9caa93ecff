"""`cloudops deployments create`: the work pool and every deployment of prefect.yaml on the current server."""

from __future__ import annotations

import typer

from cli.friendly import friendly
from cli.prefect_server import needs_prefect_server

deployments_app = typer.Typer(help="The Prefect deployments of prefect.yaml.", no_args_is_help=True)


@deployments_app.command("create")
@friendly
@needs_prefect_server
def create(
    force: bool = typer.Option(
        False, "--force", help="Deploy again even when the server's deployments were created from this checkout."
    ),
) -> None:
    """Create (or update) the work pool, every deployment of prefect.yaml and the crash automations on
    $PREFECT_API_URL's server. Deployments created from exactly this checkout, all still there, are left as they
    are (--force deploys them again)."""
    from deployments.project import create_deployments

    for name in create_deployments(force=force):
        typer.echo(f"  {name}")
