"""deploy-environment (DeployAuthorAndLive, DeploySingleInstanceDevEnvironment, the Data Lookup Service):
a release, by image digest and snapshot id, into one stage's account with that account's own block."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run

from blocks.stage_accounts import load_stage_account
from cloudops import config_store, deploy, environment_kinds
from cloudops.environment_kinds import KindName
from cloudops.registry import RegistryClient
from cloudops.release import load_release
from cloudops.release_checks import require_promoted
from cloudops.release_status import deploy_entry
from cloudops.settings import load_settings
from flows.package import application_of
from tasks.audit import record_entry, run_actor
from tasks.deploy import deploy_stack, publish_endpoints
from tasks.notify import FAILURE_HOOKS
from tasks.stage_slot import holds_stage

PARAMETER_FILES = Path(__file__).resolve().parent.parent / "config" / "parameters"


@flow(name="deploy-environment", log_prints=False, on_failure=FAILURE_HOOKS, on_crashed=FAILURE_HOOKS)
@holds_stage("stage")
def deploy_environment(
    stage: str,
    version: str = "latest",
    kind: KindName = "author-live",
    recreate_failed: bool = False,
    restore_database: bool = False,
    started_by: str = "",
) -> list[deploy.StackOutcome]:
    """Deploy release ``version`` of the application as environment ``kind`` in ``stage``.

    Checks first that the release's images are in the stage's registry and its snapshots shared with
    the stage's account; then each stack through a change set (shown before it runs; none when nothing
    changes). ``recreate_failed`` lets a stack left in ROLLBACK_COMPLETE by a failed first create be
    deleted and created again. An existing Author or Live environment keeps its database unless
    ``restore_database`` replaces it with the release's snapshot (the change set flags the replacement).
    ``started_by``: who the audit trail names as deploying it (a release passes its own; else who started the run).
    """
    logger = get_run_logger()
    settings = load_settings()
    stage_config = settings.stage(stage)
    kind_spec = environment_kinds.kind(kind)
    app = application_of(settings)
    build = load_stage_account(settings, settings.build_stage)
    release = load_release(build.session(), settings.stage(settings.build_stage).bucket, app.name, version)
    account = load_stage_account(settings, stage)
    session = account.session()
    login = account.registry_login()
    with RegistryClient(login) as registry:
        images, snapshots = kind_spec.image_names(release.image_roles), list(kind_spec.snapshots)
        require_promoted(stage, registry, session, release, images, snapshots)
    for name, keys in deploy.read_config_files(session, stage_config.bucket, list(kind_spec.config_files)).items():
        logger.info("config/%s of %s: %s", name, stage, ", ".join(keys))
    network = deploy.stage_network(session, stage_config.vpc_id, stage_config.subnet_ids)
    plans = deploy.plans(kind, stage, stage_config.bucket, release, login.host, network)
    deploy.validate_templates(session, kind)
    store = config_store.SsmConfigStore(session)
    for plan in plans:
        secret = plan.parameters.get("DbPasswordParameter")
        if secret and store.ensure_secret(secret):
            logger.info("created the database password parameter %s (SecureString)", secret)
    tags = deploy.stack_tags(app.name, stage, release.version)
    outcomes: list[deploy.StackOutcome] = []
    if kind_spec.chained:  # the lookup service: its parameter file, then the prerequisites' outputs
        prerequisites, service = plans
        values = deploy.lookup_prerequisites(
            PARAMETER_FILES / prerequisites.parameter_file, stage_config.account_id, network
        )
        first = deploy_stack(account, prerequisites.model_copy(update={"parameters": values}), tags, recreate_failed)
        outputs = {k: first.outputs[k] for k in service.inputs if k in first.outputs}
        service_parameters = {**service.parameters, **outputs, "EcsAmiId": deploy.ecs_ami(session)}
        outcomes = [
            first,
            deploy_stack(account, service.model_copy(update={"parameters": service_parameters}), tags, recreate_failed),
        ]
    else:
        futures = [deploy_stack.submit(account, plan, tags, recreate_failed, restore_database) for plan in plans]
        outcomes = [future.result() for future in futures]
    for outcome in outcomes:
        publish_endpoints(account, stage, app.name, outcome)
    rows = "\n".join(
        f"| {o.stack} | {o.action} | {'executed' if o.executed else 'no changes'} | "
        f"{', '.join(c.logical_id for c in o.changes if c.replaces) or '-'} | {o.outputs.get('AppEndpoint', '-')} |"
        for o in outcomes
    )
    create_markdown_artifact(
        key=f"deploy-{stage}-{kind}",
        markdown=(
            f"### {release.id} in {stage} ({kind})\n\n| stack | action | outcome | replaced | endpoint |\n"
            f"|---|---|---|---|---|\n{rows}\n"
        ),
        description=f"Deploy of {release.id} to {stage}",
    )
    entry = deploy_entry(release, stage, kind, outcomes, run_actor(started_by), flow_run.get_id())
    record_entry(build, settings.stage(settings.build_stage).bucket, entry)
    return outcomes
