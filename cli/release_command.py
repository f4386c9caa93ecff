"""`cloudops release`: the whole pipeline from one command, with progress, and where to look afterwards."""

from __future__ import annotations

import contextlib
import time
from typing import Annotated

import typer

from cli.options import RdsDatabases, use_rds_databases, who_runs_this
from cloudops import config_store
from cloudops.endpoint_health import health_text
from cloudops.environment_kinds import names_text

AUTO_APPROVER = "auto-approver (sandbox demo)"


def release_command(
    ref: Annotated[str, typer.Option(help="The git ref of the application to release.")] = "HEAD",
    to: Annotated[str, typer.Option("--to", help="The last stage the release goes to.")] = "prod",
    kind: Annotated[str, typer.Option(help=f"What to deploy in each stage: {names_text()}.")] = "author-live",
    rds_databases: RdsDatabases = None,
    auto_approve: Annotated[
        bool,
        typer.Option(help="Approve every stage automatically, through the approval form (for the sandbox demo)."),
    ] = False,
    approval_timeout: Annotated[int, typer.Option(help="Seconds to wait for each approval.")] = 7 * 24 * 3600,
) -> None:
    """Run release: build REF, then promote, deploy and (except in the last stage) wait for approval, stage by stage."""
    from prefect.settings import PREFECT_UI_URL

    from cli import preflight
    from cli.approvals import AutoApprover
    from cloudops.release_plan import promotion_text
    from flows.release import ReleaseStoppedError, release

    preflight.kinds(kind)
    settings = preflight.target_stages([to])
    preflight.application_images(settings, kind)
    use_rds_databases(rds_databases)

    if auto_approve:
        typer.echo(f"approvals: given automatically as {AUTO_APPROVER!r} through each run's form (--auto-approve)")
    approver = AutoApprover(AUTO_APPROVER, report=lambda line: typer.echo(f"  {line}")) if auto_approve else None
    with approver or contextlib.nullcontext():
        state = release(
            return_state=True,
            ref=ref,
            to_stage=to,
            deploy_kind=kind,
            approval_timeout_seconds=approval_timeout,
            started_by=who_runs_this(settings),
            approval_poll_seconds=1 if auto_approve else 10,
        )
    ui = PREFECT_UI_URL.value()
    run_link = f"{ui}/runs/flow-run/{state.state_details.flow_run_id}" if ui else ""
    try:
        outcome = state.result()
    except ReleaseStoppedError as error:
        typer.echo(f"stopped: {error}" + (f" (the run: {run_link})" if run_link else ""), err=True)
        raise typer.Exit(1) from None
    built = outcome.release
    typer.echo(f"\nrelease {built.id} (commit {built.commit[:12]}), package {built.package_digest}")
    typer.echo(f"  rebuilt: {', '.join(outcome.rebuilt) or 'nothing (the package, images and snapshots were there)'}")
    for name, image in sorted(built.images.items()):
        typer.echo(f"  image    {name:<7} {image.digest}")
    for environment, snap in sorted(built.snapshots.items()):
        typer.echo(f"  snapshot {environment:<7} {snap.identifier}")
    for stage in outcome.stages:
        approval = f"; {stage.decision} by {stage.approver}" if stage.decision else ""
        approval += " (recorded before, not asked again)" if stage.approval_reused else ""
        changed = ", ".join(stage.stacks_changed) or "no changes"
        typer.echo(f"{stage.stage:<8} {promotion_text(stage)}; {stage.deployed}: {changed}{approval}")
    if ui:
        typer.echo(f"\nPrefect UI:        {ui}")
        typer.echo(f"release run:       {run_link}")
        typer.echo(f"release artifact:  {ui}/artifacts/key/release-summary")
    typer.echo("endpoints (read back from each stage's config store):")
    for stage in outcome.stages:
        for line in endpoint_lines(stage.config):
            typer.echo(f"  {line}")


# Config store values the stage lines already show (the stack) or that only name it (the cluster).
ENDPOINT_WAIT_SECONDS = 90.0


def endpoint_lines(config: dict[str, str]) -> list[str]:
    """A stage's config store values as a block per environment: its path, then each endpoint by name; each app
    endpoint with what its ``/health`` answers."""
    lines: list[str] = []
    # The last stage's tasks start as the release ends: the endpoints may take a moment to answer
    deadline = time.monotonic() + ENDPOINT_WAIT_SECONDS
    for path, values in config_store.environment_endpoints(config).items():
        lines.append(path)
        for name, value in values.items():
            if name == "app" and value.startswith("http"):
                value = f"{value}  ({health_text(value, wait=max(0.0, deadline - time.monotonic()))})"
            lines.append(f"  {name:<9} {value}")
    return lines
