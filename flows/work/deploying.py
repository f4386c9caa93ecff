"""Deploying a release into one stage: its stacks through change sets, its endpoints published, the deploy recorded
and verified. What to do about a failed verification is the caller's (rolling back is a flow of its own)."""

from __future__ import annotations

from dataclasses import dataclass

from prefect import get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run

from blocks.pipeline import Pipeline, StageTarget
from cloudops import audit, deploy, environment_kinds, reports
from cloudops.environment_kinds import KindName
from cloudops.release import Release
from cloudops.verification import verification_entry
from tasks.deploy import (
    deploy_stack,
    ecs_ami,
    ensure_environment_file,
    ensure_secrets,
    fill_authorities,
    publish_endpoints,
    read_config_keys,
    registry_host,
    set_database_password,
    stage_network,
    stage_options,
    validate_templates,
)
from tasks.promotion import require_in_stage
from tasks.records import record
from tasks.verification import verify_deploy


@dataclass(frozen=True)
class DeployOptions:
    """How to deploy: ``actor`` is who the trail names; the rest as deploy-environment's parameters say."""

    actor: str
    recreate_failed: bool = False
    restore_database: bool = False
    templates_checked: bool = False  # the caller validated the kind's templates already (the same in every account)
    in_stage_checked: bool = False  # the caller checked (or just copied) the release's images and shares in the stage


@dataclass(frozen=True)
class DeployReport:
    """What a deploy did: each stack's outcome, the values it published (by parameter name, no secret), and the
    two entries it recorded (the deploy, then its verification)."""

    outcomes: list[deploy.StackOutcome]
    endpoints: dict[str, str]
    deployed: audit.DeployEntry
    verification: audit.VerificationEntry
    passed: bool
    summary: str

    @property
    def entries(self) -> list[audit.AuditEntry]:
        return [self.deployed, self.verification]


def deploy_release(
    pipeline: Pipeline, release: Release, target: StageTarget, kind: KindName, options: DeployOptions
) -> DeployReport:
    """Deploy ``release`` as ``kind`` into ``target`` and verify it (see the deploy-environment flow)."""
    logger = get_run_logger()
    kind_spec = environment_kinds.kind(kind)
    app, build, stage = pipeline.application, pipeline.build, target.name
    if not options.in_stage_checked:
        require_in_stage(target, release, deploy.kind_images(release, kind_spec), list(kind_spec.snapshots))
    for name, keys in read_config_keys(target, list(kind_spec.config_files)).items():
        logger.info("config/%s of %s: %s", name, stage, ", ".join(keys))
    network = stage_network(target)
    plans = deploy.plans(kind, stage, target.bucket, release, registry_host(target), network, stage_options(target))
    if not options.templates_checked:
        validate_templates(target.account, kind)
    for secret in ensure_secrets(target, plans):
        logger.info("created the database password parameter %s (SecureString)", secret)
    tags = deploy.stack_tags(app.name, stage, release.version)
    if kind_spec.chained:  # the lookup service: its parameter file, then the prerequisites' outputs
        outcomes = deploy_chained(target, plans, tags, options.recreate_failed, kind_spec.environment_file)
        if kind_spec.fills_authorities:  # the lookup service's authorities access point, when they changed
            filled = fill_authorities(target, build, release, outcomes[0], outcomes[-1])
            logger.info("authorities of %s in %s: %s", release.id, stage, filled.reason)
    else:
        futures = [
            deploy_stack.submit(target.account, plan, tags, options.recreate_failed, options.restore_database)
            for plan in plans
        ]
        outcomes = [future.result() for future in futures]
    for future in [set_database_password.submit(target.account, plan) for plan in deploy.restored(plans, kind_spec)]:
        future.result()
    published: dict[str, str] = {}
    for outcome in outcomes:
        values = publish_endpoints(target.account, stage, app.name, outcome)
        published |= deploy.published_endpoints(stage, app.name, outcome.environment, values)
    create_markdown_artifact(
        key=f"deploy-{stage}-{kind}",
        markdown=reports.deploy_markdown(release, stage, kind, outcomes),
        description=f"Deploy of {release.id} to {stage}",
    )
    changed = {o.stack: o.executed for o in outcomes}
    deployed = audit.deploy_entry(release, stage, kind_spec, changed, options.actor, flow_run.get_id())
    record(build, deployed)
    checks = app.checks.get(kind, [])
    verification = verify_deploy(target, release, kind, outcomes, checks)
    entry = verification_entry(release, stage, kind_spec, verification, options.actor, flow_run.get_id())
    record(build, entry)
    create_markdown_artifact(
        key=f"verification-{stage}-{kind}",
        markdown=reports.verification_markdown(entry, deploy.app_endpoints(outcomes)),
        description=f"Verification of {release.id} in {stage}",
    )
    return DeployReport(outcomes, published, deployed, entry, verification.passed, verification.summary())


def deploy_chained(
    target: StageTarget,
    plans: list[deploy.StackPlan],
    tags: dict[str, str],
    recreate_failed: bool,
    environment_file: str = "",
) -> list[deploy.StackOutcome]:
    """The first stack from the stage's parameter file, then the next wired to its outputs (the lookup service);
    between them, the containers' environment file in the first stack's bucket when the kind has one."""
    prerequisites, service = plans
    values = deploy.lookup_prerequisites(prerequisites.parameter_file, target.name, target.account_id)
    planned = prerequisites.model_copy(update={"parameters": {**values, **prerequisites.parameters}})  # the network
    first = deploy_stack(target.account, planned, tags, recreate_failed)
    if environment_file and ensure_environment_file(target, first.outputs["EnvBucketName"], environment_file):
        get_run_logger().info("wrote %s into s3://%s", environment_file, first.outputs["EnvBucketName"])
    wired = deploy.chained_plan(service, first.outputs, ecs_ami(target))
    return [first, deploy_stack(target.account, wired, tags, recreate_failed)]
