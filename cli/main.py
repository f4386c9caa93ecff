"""The ``cloudops`` command line."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from pydantic import TypeAdapter

from cli.deployments_command import deployments_app
from cli.friendly import friendly
from cli.in_process import runs_flows, watch_runs
from cli.logs_command import logs_command
from cli.options import ConfigFile, RdsDatabases, use_rds_databases, who_runs_this
from cli.plugins import add_commands
from cli.prefect_server import needs_prefect_server
from cli.release_command import release_command
from cloudops.environment_kinds import names_text
from cloudops.errors import CloudOpsError
from cloudops.settings import config_path, load_settings

app = typer.Typer(
    help="cloudops-flows: the release pipeline of a container application on multi-account AWS.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
blocks_app = typer.Typer(help="The per-account credential blocks.", no_args_is_help=True)
accounts_app = typer.Typer(help="The stage accounts of cloudops.toml.", no_args_is_help=True)
app.add_typer(blocks_app, name="blocks")
app.add_typer(accounts_app, name="accounts")
app.add_typer(deployments_app, name="deployments")
add_commands(app)  # the sandbox's `cloudops sandbox ...`, when it is installed (cli/plugins.py)


@blocks_app.command("register")
@friendly
@needs_prefect_server
def blocks_register(
    config: ConfigFile = None,
    overwrite: Annotated[bool, typer.Option(help="Replace blocks that exist.")] = False,
    external_id: Annotated[
        str | None,
        typer.Option(
            envvar="CLOUDOPS_EXTERNAL_ID",
            help="The external id the stages' roles ask for (as given to `cloudops accounts bootstrap`); kept in "
            "each block that assumes a role, as a secret.",
        ),
    ] = None,
) -> None:
    """Register the block type and save a block per stage from cloudops.toml (profile and role).

    Put static keys in the Prefect UI's block form instead: they are stored there as secrets.
    """
    from pydantic import SecretStr

    from blocks.register import credentials_from_config, save_stage_blocks

    settings = load_settings(config or config_path())
    secret = SecretStr(external_id) if external_id else None
    try:
        saved = save_stage_blocks(
            settings, lambda stage: credentials_from_config(settings, stage, secret), overwrite=overwrite
        )
    except ValueError as error:
        typer.echo(f"error: {error}; pass --overwrite to replace the existing blocks", err=True)
        raise typer.Exit(1) from None
    for stage, name in saved.items():
        typer.echo(f"{stage}: block {name!r} saved")


@accounts_app.command("show")
@friendly
@needs_prefect_server
def accounts_show(
    config: ConfigFile = None,
    check: Annotated[bool, typer.Option(help="Load each stage's block and verify it with STS.")] = False,
) -> None:
    """The stages, their accounts, and (with --check) whether each block reaches its account."""
    settings = load_settings(config or config_path())
    failures = 0
    for stage in settings.promotion_order():
        conf = settings.stage(stage)
        source = conf.promotes_from or "(builds)"
        line = (
            f"{stage:<10} account {conf.account_id}  {conf.region:<12} block {conf.credential_block:<14} "
            f"bucket {conf.bucket:<32} from {source}"
        )
        if check:
            from blocks.stage_accounts import load_stage_account

            try:
                account = load_stage_account(settings, stage)
                line += f"  verified ({account.registry_login().host})"
            except CloudOpsError as error:
                failures += 1
                line += f"  FAILED: {error}"
        typer.echo(line)
    if failures:
        raise typer.Exit(1)


@accounts_app.command("doctor")
@friendly
@needs_prefect_server
def accounts_doctor(
    stages: Annotated[list[str] | None, typer.Argument(help="The stages to check; by default every stage.")] = None,
    config: ConfigFile = None,
) -> None:
    """What a run will need in each stage's account, checked with the stage's block as a run uses it: the
    bootstrap's version, the bucket (the build's with Object Lock), the repositories, the network's subnets, the
    keys (the build key's grant to every stage), and the roles' permissions as IAM's policy simulator decides them.
    One line per check; a problem names its fix, and any problem exits 1."""
    from blocks.stage_accounts import load_stage_account
    from cloudops.doctor import Finding, check_stage

    settings = load_settings(config or config_path())
    for stage in stages or []:
        settings.stage(stage)  # an unknown stage fails before any account is asked, naming the stages
    problems = 0
    for stage in [s for s in settings.promotion_order() if not stages or s in stages]:
        try:
            findings = check_stage(load_stage_account(settings, stage).session(), settings, stage)
        except CloudOpsError as error:
            findings = [Finding(stage, "block", False, str(error))]
        for finding in findings:
            typer.echo(finding.line())
        problems += sum(not f.ok for f in findings)
    if problems:
        typer.echo(
            f"{problems} problem(s): a run would fail on each; fix them and run `cloudops accounts doctor` again"
        )
        raise typer.Exit(1)


@accounts_app.command("bootstrap")
@friendly
def accounts_bootstrap(
    stages: Annotated[
        list[str] | None, typer.Argument(help="The stages whose accounts to bootstrap; by default every stage.")
    ] = None,
    principal: Annotated[
        str,
        typer.Option(
            help="ARN of the IAM principal the pipeline's workers run as: it may assume the pipeline's roles."
        ),
    ] = "",
    external_id: Annotated[
        str | None,
        typer.Option(
            envvar="CLOUDOPS_EXTERNAL_ID", help="The external id the principal must give to assume a pipeline role."
        ),
    ] = None,
    profile: Annotated[str | None, typer.Option(help="The AWS profile of the account's administrator.")] = None,
    via_role: Annotated[
        str | None,
        typer.Option(
            help="A role to assume in each stage's account from these credentials (OrganizationAccountAccessRole "
            "from an organization's management account); without it, the credentials must be the stage account's."
        ),
    ] = None,
    ecs_pool: Annotated[
        bool,
        typer.Option(
            "--ecs-pool",
            help="Also give the build account the flow-run cluster of the cloudops-ecs work pool: its cluster, "
            "the tasks' execution role and log group, and the event rule and queue of prefect-aws's observer "
            "(kept by later runs without the flag).",
        ),
    ] = False,
    config: ConfigFile = None,
) -> None:
    """Create or update each stage account's stack cloudops-bootstrap: its bucket, key, ECR repositories, the
    pipeline's roles and the CloudFormation execution role; then its config files. Run it with the account's
    administrator credentials, once, and again after an upgrade that asks for it."""
    from cli.bootstrap_command import bootstrap_accounts

    bootstrap_accounts(
        load_settings(config or config_path()),
        stages or [],
        principal,
        external_id,
        profile,
        via_role,
        ecs_pool=True if ecs_pool else None,
    )


@app.command("build")
@friendly
@needs_prefect_server
@runs_flows
def build(
    ref: Annotated[str, typer.Option(help="The git ref of the application to release.")] = "HEAD",
    rds_databases: RdsDatabases = None,
    share_with: Annotated[list[str] | None, typer.Option(help="Stages that may restore the snapshots.")] = None,
) -> None:
    """Run build-release: package, images and snapshots of REF, recorded as a release."""
    from cli import preflight
    from flows.build_release import build_release

    preflight.target_stages(share_with or [])
    use_rds_databases(rds_databases)
    release = build_release(ref=ref, share_with=share_with)
    typer.echo(f"release {release.id} (commit {release.commit[:12]})")
    typer.echo(f"  package  {release.package_digest}  {release.package_uri}")
    for name, image in release.images.items():
        typer.echo(f"  image    {name:<7} {image.digest}  {'built' if image.rebuilt else 'unchanged'}")
    for environment, snap in release.snapshots.items():
        typer.echo(f"  snapshot {environment:<7} {snap.identifier}  {'taken' if snap.created else 'unchanged'}")


@app.command("promote")
@friendly
@needs_prefect_server
@runs_flows
def promote_command(
    version: Annotated[str, typer.Argument(help="The release version, or 'latest'.")],
    to: Annotated[str, typer.Option("--to", help="The stage to promote into.")],
    deploy: Annotated[str | None, typer.Option(help=f"Then deploy it: {names_text()}.")] = None,
) -> None:
    """Run promote: copy a release's images by digest into a stage (needs the previous stage's approval)."""
    from cli import preflight
    from flows.promote import promote

    preflight.kinds(deploy)
    preflight.existing_release(preflight.target_stages([to]), version)

    entry = promote(version=version, to_stage=to, deploy_kind=deploy)
    typer.echo(f"release {entry.application}@{entry.version} promoted to {entry.stage} (from {entry.from_stage})")
    for name, digest in entry.digests.items():
        typer.echo(f"  {name:<7} {digest}")


@app.command("approve")
@friendly
@needs_prefect_server
def approve_command(
    version: Annotated[str, typer.Argument(help="The release version waiting for approval.")],
    stage: Annotated[str, typer.Option("--stage", help="The stage whose approval this is.")],
    approver: Annotated[str, typer.Option(help="Your name or e-mail address.")],
    ticket: Annotated[str, typer.Option(help="A ticket reference.")] = "",
    comment: Annotated[str, typer.Option(help="Anything the next stage should know.")] = "",
    reject: Annotated[bool, typer.Option("--reject", help="Reject instead of approving.")] = False,
    profile: Annotated[
        str | None,
        typer.Option(help="The AWS profile whose identity signs your answer [default: your default credentials]."),
    ] = None,
) -> None:
    """Answer the paused await-approval run of VERSION in a stage (for scripted pipelines), and say what the run
    did with the answer: accepted and recorded, or refused and why (exit 1).

    The answer carries your AWS identity, signed with your own credentials (a presigned sts:GetCallerIdentity
    request the run sends to STS): the audit trail records the ARN STS verified, and a stage with
    verified_approvers or approver patterns accepts only such answers."""
    from cli import preflight
    from cli.approvals import answer_waiting_run, form_answer, signed_identity, what_the_run_did

    settings = preflight.target_stages([stage])
    proof = signed_identity(settings, stage, profile)
    answer = form_answer("reject" if reject else "approve", approver, ticket, comment, proof)
    answered = answer_waiting_run(version, stage, answer)
    typer.echo(f"{'rejected' if reject else 'approved'} {version} in {stage}: {what_the_run_did(answered)}")


app.command("release")(friendly(needs_prefect_server(runs_flows(release_command))))


@app.command("status")
@friendly
@needs_prefect_server
def status_command(
    config: ConfigFile = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of text.")] = False,
) -> None:
    """For each stage: the release deployed (by digest), when, who approved it there, and the one before it."""
    from blocks.stage_accounts import load_stage_account
    from cloudops import audit
    from cloudops.release_status import StageStatus, release_status, status_text
    from cloudops.trail import Trail

    settings = load_settings(config or config_path())
    app_name = settings.require_application().name
    build = load_stage_account(settings, settings.build_stage)
    trail = Trail(audit.entries(build.session(), settings.stage(settings.build_stage).bucket, app_name))
    stages = [s for s in settings.promotion_order() if s != settings.build_stage]
    status = release_status(trail, stages, {s for s in stages if not settings.next_stages(s)})
    if as_json:
        typer.echo(TypeAdapter(list[StageStatus]).dump_json(status, indent=2).decode())
    else:
        typer.echo(f"{app_name}: {' -> '.join(settings.promotion_order())}\n")
        typer.echo(status_text(status), nl=False)


app.command("logs")(friendly(needs_prefect_server(logs_command)))


@app.command("rollback")
@friendly
@needs_prefect_server
@runs_flows
def rollback_command(
    stage: Annotated[str, typer.Argument(help="The stage to roll back.")],
    kind: Annotated[str, typer.Option(help=f"The environment: {names_text()}.")] = "author-live",
    reason: Annotated[str, typer.Option(help="Why, for the audit trail.")] = "",
) -> None:
    """Run rollback: redeploy the release STAGE ran before its current one (checked, recorded in the audit trail)."""
    from cli import preflight
    from flows.deploy_and_rollback import rollback

    preflight.kinds(kind)
    settings = preflight.target_stages([stage])
    entry = rollback(stage=stage, kind=kind, started_by=who_runs_this(settings), reason=reason)
    typer.echo(f"{stage} ({kind}) rolled back from {entry.rolled_back_from} to {entry.version} by {entry.actor}")
    for name, digest in entry.digests.items():
        typer.echo(f"  {name:<7} {digest}")


@app.command("config")
@friendly
def config_check(config: ConfigFile = None) -> None:
    """Validate the configuration and print the promotion order."""
    settings = load_settings(config or config_path())
    typer.echo(" -> ".join(settings.promotion_order()))


def main() -> None:
    """The ``cloudops`` console script: the commands, in a process of their own."""
    watch_runs()
    app(sys.argv[1:])
