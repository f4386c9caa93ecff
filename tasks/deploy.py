"""Tasks of the deploy and teardown flows."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from blocks.aws_account import AwsAccount
from blocks.pipeline import StageTarget
from cloudops import authorities, bootstrap, config_store, deploy, networks
from cloudops.aws import cloudformation
from cloudops.networks import StageNetwork
from cloudops.policies import execution_role_arn
from cloudops.release import Release
from tasks.retry import AWS_RETRIES


@task(name="deploy-stack", task_run_name="deploy-{plan.stack}", cache_policy=NO_CACHE, **AWS_RETRIES)
def deploy_stack(
    account: AwsAccount,
    plan: deploy.StackPlan,
    tags: dict[str, str],
    recreate_failed: bool,
    restore_database: bool = False,
) -> deploy.StackOutcome:
    logger = get_run_logger()

    def show(markdown: str) -> None:
        create_markdown_artifact(markdown=markdown, description=f"Change set of {plan.stack}")

    return deploy.deploy_stack(
        account.session(),
        plan,
        tags,
        recreate_failed=recreate_failed,
        log=logger.info,
        show_change_set=show,
        restore_database=restore_database,
    )


@task(
    name="set-database-password",
    task_run_name="set-database-password-{plan.stack}",
    cache_policy=NO_CACHE,
    **AWS_RETRIES,
)
def set_database_password(account: AwsAccount, plan: deploy.StackPlan) -> str | None:
    """The stack's RDS instance given the stage's database password (a restored instance has its source's)."""
    instance = deploy.set_database_password(account.session(), plan)
    if instance is not None:
        get_run_logger().info("stack %s: the master password of RDS instance %s is the stage's", plan.stack, instance)
    return instance


@task(name="validate-templates", task_run_name="validate-templates-{kind}", cache_policy=NO_CACHE, **AWS_RETRIES)
def validate_templates(account: AwsAccount, kind: str) -> None:
    """Every template of ``kind`` validated by CloudFormation (remembered for the rest of the process)."""
    deploy.validate_templates(account.session(), kind)


@task(name="preview-deploy", task_run_name="preview-deploy", cache_policy=NO_CACHE, **AWS_RETRIES)
def preview_deploy(account: AwsAccount, plans: list[deploy.StackPlan], tags: dict[str, str]) -> str:
    """What deploying ``plans`` would change, as markdown; nothing is changed."""
    session = account.session()
    return "\n".join(deploy.preview_stack(session, plan, tags) for plan in plans)


@task(name="publish-endpoints", cache_policy=NO_CACHE, **AWS_RETRIES)
def publish_endpoints(
    account: AwsAccount, stage: str, application: str, outcome: deploy.StackOutcome
) -> dict[str, str]:
    store = config_store.SsmConfigStore(account.session())
    return deploy.publish_endpoints(store, stage, application, outcome)


@task(name="read-endpoints", task_run_name="read-endpoints-{stage}", cache_policy=NO_CACHE, **AWS_RETRIES)
def read_endpoints(account: AwsAccount, stage: str, application: str) -> dict[str, str]:
    """Every value the stage's config store holds for the application, by parameter name; secrets and the
    lookup service's authorities record (not an endpoint) left out."""
    prefix = config_store.path(stage, application, "").rstrip("/")
    values = config_store.SsmConfigStore(account.session()).get(prefix)
    shown = config_store.endpoints(values, not_endpoints=(authorities.STORE_ENVIRONMENT,))
    return {f"{prefix}/{key}": value for key, value in shown.items()}


@task(name="delete-stack", task_run_name="delete-{stack}", cache_policy=NO_CACHE, **AWS_RETRIES)
def delete_stack(account: AwsAccount, stack: str) -> bool:
    session = account.session()
    return cloudformation.delete(session, stack, execution_role_arn(session.account_id))


@task(name="clear-endpoints", cache_policy=NO_CACHE, **AWS_RETRIES)
def clear_endpoints(account: AwsAccount, prefixes: list[str]) -> list[str]:
    """Remove the published endpoints of torn-down environments; their database passwords stay."""
    store = config_store.SsmConfigStore(account.session())
    return [f"{prefix}/{key}" for prefix in prefixes for key in store.clear(prefix, keep=config_store.SECRET_KEYS)]


@task(name="stage-network", task_run_name="stage-network-{target.name}", cache_policy=NO_CACHE, **AWS_RETRIES)
def stage_network(target: StageTarget) -> StageNetwork:
    """The stage's network as configured, or its account's default VPC where it asks for that."""
    return networks.stage_network(target.account.session(), target.name, target.config.network)


@task(name="read-config-files", task_run_name="read-config-{target.name}", cache_policy=NO_CACHE, **AWS_RETRIES)
def read_config_keys(target: StageTarget, names: list[str]) -> dict[str, list[str]]:
    """The keys of each config file the deploy needs, from the stage's bucket (the values may be secrets)."""
    return deploy.read_config_files(target.account.session(), target.bucket, names)


@task(name="ensure-secrets", task_run_name="ensure-secrets-{target.name}", cache_policy=NO_CACHE, **AWS_RETRIES)
def ensure_secrets(target: StageTarget, plans: list[deploy.StackPlan]) -> list[str]:
    """The database password parameter of each plan, created once as a SecureString; those created now."""
    store = config_store.SsmConfigStore(target.account.session())
    names = [
        plan.parameters[deploy.PASSWORD_PARAMETER] for plan in plans if deploy.PASSWORD_PARAMETER in plan.parameters
    ]
    return [name for name in names if name and store.ensure_secret(name)]


@task(name="ecs-ami", task_run_name="ecs-ami-{target.name}", cache_policy=NO_CACHE, **AWS_RETRIES)
def ecs_ami(target: StageTarget) -> str:
    """The region's ECS-optimised AMI (AWS's public SSM parameter)."""
    return deploy.ecs_ami(target.account.session())


@task(name="stage-options", task_run_name="stage-options-{target.name}", cache_policy=NO_CACHE, **AWS_RETRIES)
def stage_options(target: StageTarget) -> deploy.StageOptions:
    """The stage's choices for its environments, and what its account's bootstrap stack made for them."""
    return deploy.stage_options(target.config, bootstrap.account_resources(target.account.session(), target.name))


@task(name="registry-host", task_run_name="registry-host-{target.name}", cache_policy=NO_CACHE, **AWS_RETRIES)
def registry_host(target: StageTarget) -> str:
    """The host of the stage's registry, which the deployed task definitions pull from (ECR's login on AWS)."""
    return target.account.registry_login().host


@task(name="ensure-environment-file", task_run_name="environment-file-{name}", cache_policy=NO_CACHE, **AWS_RETRIES)
def ensure_environment_file(target: StageTarget, bucket: str, name: str) -> bool:
    """The containers' environment file in ``bucket``, written when missing (never overwritten)."""
    return deploy.ensure_environment_file(target.account.session(), bucket, name, target.name)


@task(name="fill-authorities", task_run_name="fill-authorities-{target.name}", cache_policy=NO_CACHE, **AWS_RETRIES)
def fill_authorities(
    target: StageTarget,
    build: StageTarget,
    release: Release,
    prerequisites: deploy.StackOutcome,
    service: deploy.StackOutcome,
) -> authorities.FillOutcome:
    """Fill the stage's authorities access point from the release when its authorities changed (ECS RunTask)."""
    logger = get_run_logger()
    manifest = authorities.read_manifest(build.account.session(), build.bucket, release)
    session = target.account.session()
    return authorities.fill(
        session,
        config_store.SsmConfigStore(session),
        target.name,
        release,
        manifest,
        prerequisites.outputs,
        service.outputs,
        logger.info,
    )
