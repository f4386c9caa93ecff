"""`cloudops release`: the whole pipeline from one command, with progress, and where to look afterwards."""

from __future__ import annotations

import contextlib
import getpass
import os
from typing import Annotated, cast

import typer

AUTO_APPROVER = "auto-approver (sandbox demo)"


def release_command(
    ref: Annotated[str, typer.Option(help="The git ref of the application to release.")] = "HEAD",
    to: Annotated[str, typer.Option("--to", help="The last stage the release goes to.")] = "prod",
    kind: Annotated[
        str, typer.Option(help="What to deploy in each stage: author-live, single-instance or lookup-service.")
    ] = "author-live",
    rds_databases: Annotated[
        str | None, typer.Option(help="The sandbox's MySQL Server block for RDS data (sandbox-mariadb).")
    ] = None,
    auto_approve: Annotated[
        bool,
        typer.Option(help="Approve every stage automatically, through the approval form (for the sandbox demo)."),
    ] = False,
    approval_timeout: Annotated[int, typer.Option(help="Seconds to wait for each approval.")] = 7 * 24 * 3600,
) -> None:
    """Run release: build REF, then promote, deploy and (except in the last stage) wait for approval, stage by stage."""
    from cli.approvals import AutoApprover
    from cloudops.deploy import check_kind
    from cloudops.release_plan import promotion_text
    from flows.deploy_environment import Kind
    from flows.release import ReleaseStoppedError, release

    check_kind(kind)

    if auto_approve:
        typer.echo(f"approvals: given automatically as {AUTO_APPROVER!r} through each run's form (--auto-approve)")
    approver = AutoApprover(AUTO_APPROVER, report=lambda line: typer.echo(f"  {line}")) if auto_approve else None
    try:
        with approver or contextlib.nullcontext():
            outcome = release(
                ref=ref,
                to_stage=to,
                deploy_kind=cast(Kind, kind),
                approval_timeout_seconds=approval_timeout,
                started_by=getpass.getuser(),
                rds_databases=rds_databases,
                approval_poll_seconds=1 if auto_approve else 10,
            )
    except ReleaseStoppedError as error:
        typer.echo(f"stopped: {error}", err=True)
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
    ui = os.environ.get("PREFECT_UI_URL") or os.environ.get("PREFECT_API_URL", "").removesuffix("/api")
    if ui:
        typer.echo(f"\nPrefect UI:        {ui}")
        typer.echo(f"release artifact:  {ui}/artifacts/key/release-summary")
    typer.echo("endpoints (read back from each stage's config store):")
    for stage in outcome.stages:
        for name, value in stage.config.items():
            typer.echo(f"  {name} = {value}")
