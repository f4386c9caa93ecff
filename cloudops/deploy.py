"""Deploying a release into one stage's account: which stacks a kind of environment has, their
parameters (images by digest, snapshots by id), and one stack's create-or-update through a change set."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources
from importlib.resources.abc import Traversable
from string import Template
from typing import Any

from pydantic import BaseModel, ConfigDict

from cloudops import config_store, environment_kinds
from cloudops.aws import cloudformation, rds, s3, ssm
from cloudops.aws.session import AccountSession
from cloudops.bootstrap import AccountResources
from cloudops.environment_kinds import EnvironmentKind, PlanValue, StackSpec
from cloudops.errors import CloudOpsError
from cloudops.image_roles import ImageRole
from cloudops.networks import StageNetwork
from cloudops.policies import execution_role_arn
from cloudops.release import Release
from cloudops.settings import Stage
from cloudops.snapshots import database_name
from cloudops.stacks import Action, ResourceChange, changes_markdown, decide

# Every kind's published outputs (cloudops/environment_kinds.py); a stack has those of its own template.
OUTPUT_KEYS = environment_kinds.OUTPUT_KEYS
APP_ENDPOINT = "AppEndpoint"  # the output a stack publishes its application endpoint in
SNAPSHOT_PARAMETER = "DbSnapshotIdentifier"
KEY_PARAMETER = "AccountKeyArn"
PASSWORD_PARAMETER = "DbPasswordParameter"
PASSWORD_MARK_TAG = "cloudops:db-password"  # "<secret's version>@<instance's creation time>", once it is set
DATABASE_RESOURCE = "Database"  # the RDS instance of an environment restored from a snapshot (author-live.yaml)
ECS_AMI_PARAMETER = "/aws/service/ecs/optimized-ami/amazon-linux-2/recommended/image_id"
Log = Callable[[str], None]


class StackPlan(BaseModel):
    model_config = ConfigDict(frozen=True)

    stack: str
    template: str
    environment: str
    parameters: dict[str, str]
    parameter_file: str = ""  # a parameter file (cloudops/templates/parameters) that fills the other parameters
    inputs: tuple[str, ...] = ()  # outputs of the stack deployed before it, taken as parameters


class StackOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    stack: str
    environment: str
    action: str
    executed: bool
    changes: tuple[ResourceChange, ...] = ()
    outputs: dict[str, str] = {}
    change_set_markdown: str = ""


def stack_tags(application: str, stage: str, version: str) -> dict[str, str]:
    """The tags every stack of a deploy carries."""
    return {"cloudops:application": application, "cloudops:stage": stage, "cloudops:version": version}


TEMPLATES: Traversable = resources.files("cloudops.templates.stacks")


def template_body(name: str) -> str:
    return TEMPLATES.joinpath(f"{name}.yaml").read_text(encoding="utf-8")


def validate_templates(account: AccountSession, kind: str) -> None:
    """Every template of ``kind``, validated by CloudFormation before anything is touched."""
    for name in environment_kinds.kind(kind).templates:
        cloudformation.validate(account, template_body(name), name)


def check_teardown(stage: str, kind: str, allowed: bool, confirm: str, stacks: list[str]) -> None:
    """A teardown deletes nothing unless the stage allows it and ``confirm`` names exactly the stage and kind."""
    if not allowed:
        raise CloudOpsError(
            f"teardown of stage {stage!r} is not allowed by its configuration (teardown_allowed = false in "
            "cloudops.toml); nothing was deleted"
        )
    if confirm != f"{stage}/{kind}":
        raise CloudOpsError(f"to delete {', '.join(stacks)}, pass confirm={stage}/{kind}; nothing was deleted")


def kind_images(release: Release, kind: EnvironmentKind) -> list[str]:
    """The names of the release's images an environment of ``kind`` runs (refused when it has none for a role)."""
    return environment_kinds.require_images(kind, release.image_roles, release.images, f"release {release.id}")


def image_ref(registry_host: str, release: Release, role: ImageRole) -> str:
    """The image that plays ``role`` in the release, by digest in the stage's registry."""
    name = release.image_roles.image(role)
    image = release.images.get(name)
    if image is None:
        raise CloudOpsError(
            f"release {release.id} has no image {name!r} (its {role} image); build it with build-release, "
            "or set application.images to an image the release has"
        )
    return f"{registry_host}/{name}@{image.digest}"


def read_config_files(account: AccountSession, bucket: str, names: list[str]) -> dict[str, list[str]]:
    """The keys of each config file the deploy needs, from the account's bucket (values may be secrets)."""
    found = {}
    for name in names:
        text = s3.get_object(account, bucket, f"config/{name}").decode()
        found[name] = sorted(
            line.split("=", 1)[0].strip()
            for line in text.splitlines()
            if "=" in line and not line.lstrip().startswith("#")
        )
    return found


def stacks(kind: str, application: str, stage: str) -> list[tuple[str, str]]:
    """(stack name, environment) of each stack of ``kind``, in the order they are created."""
    return environment_kinds.kind(kind).stack_names(application, stage)


def teardown_stacks(kind: str, application: str, stage: str) -> list[tuple[str, str]]:
    """(stack name, environment) of each stack teardown deletes, newest first. A stack kept on teardown (the
    lookup service's prerequisites: the environment file's bucket and the data's EFS) stays for the next deploy."""
    return environment_kinds.kind(kind).teardown_names(application, stage)


class StageOptions(BaseModel):
    """What a stage gives its environments besides its network: its choices for their RDS instances, app services
    and endpoints (cloudops.toml), and what its account's bootstrap made for them (key, log bucket, monitoring role).
    """

    model_config = ConfigDict(frozen=True)

    multi_az: bool = False
    deletion_protection: bool = False
    min_tasks: int = 2
    max_tasks: int = 4
    certificate_arn: str = ""
    domain: str = ""
    hosted_zone_id: str = ""
    key_arn: str = ""
    log_bucket: str = ""
    monitoring_role_arn: str = ""


def stage_options(config: Stage, account: AccountResources) -> StageOptions:
    """The :class:`StageOptions` of a stage configured as ``config`` whose account's bootstrap made ``account``. A
    stage with ``tls = false`` gets no certificate (its load balancers serve plain HTTP)."""
    return StageOptions(
        multi_az=config.multi_az,
        deletion_protection=config.deletion_protection,
        min_tasks=config.min_tasks,
        max_tasks=config.max_tasks,
        certificate_arn=(config.certificate_arn or "") if config.tls else "",
        domain=config.domain or "",
        hosted_zone_id=config.hosted_zone_id or "",
        key_arn=account.key_arn,
        log_bucket=account.log_bucket,
        monitoring_role_arn=account.monitoring_role_arn,
    )


def plans(
    kind: str,
    stage: str,
    bucket: str,
    release: Release,
    registry_host: str,
    network: StageNetwork,
    options: StageOptions,
) -> list[StackPlan]:
    """The stacks of ``kind`` for the release in the stage, in the order they deploy."""
    found = environment_kinds.kind(kind)
    return [_plan(found, spec, stage, bucket, release, registry_host, network, options) for spec in found.stacks]


def _plan(
    found: EnvironmentKind,
    spec: StackSpec,
    stage: str,
    bucket: str,
    release: Release,
    registry_host: str,
    network: StageNetwork,
    options: StageOptions,
) -> StackPlan:
    """One stack's plan: the parameters the registry names, then the images of the kind's roles."""
    app = release.application

    def value(of: PlanValue) -> str:
        match of:
            case "application":
                return app
            case "stage":
                return stage
            case "environment":
                return spec.environment
            case "vpc":
                return network.vpc_id
            case "vpc_cidr":
                return network.vpc_cidr
            case "public_subnets":
                return ",".join(network.public_subnets)
            case "private_subnets":
                return ",".join(network.private_subnets)
            case "assign_public_ip":
                return network.assign_public_ip
            case "snapshot":
                return _snapshot_arn(release, spec.environment)
            case "database":
                return _database(release, spec.database_of or spec.environment)
            case "db_password":
                return config_store.path(stage, app, spec.environment, "db-password")
            case "config_bucket":
                return bucket
            case "multi_az":
                return str(options.multi_az).lower()
            case "deletion_protection":
                return str(options.deletion_protection).lower()
            case "account_key":
                return _bootstrapped(stage, "account key", options.key_arn)
            case "log_bucket":
                return _bootstrapped(stage, "access-log bucket", options.log_bucket)
            case "monitoring_role":
                return _bootstrapped(stage, "RDS monitoring role", options.monitoring_role_arn)
            case "min_tasks":
                return str(options.min_tasks)
            case "max_tasks":
                return str(options.max_tasks)
            case "certificate":
                return options.certificate_arn
            case "domain":
                return options.domain
            case "hosted_zone":
                return options.hosted_zone_id

    parameters = {name: value(of) for name, of in spec.parameters.items()}
    if spec.takes_images:
        parameters |= {name: image_ref(registry_host, release, role) for role, name in found.images.items()}
    return StackPlan(
        stack=spec.stack_name(app, stage),
        template=spec.template,
        environment=spec.environment,
        parameters=parameters,
        parameter_file=spec.parameter_file,
        inputs=spec.inputs,
    )


def restored(plans: list[StackPlan], kind: EnvironmentKind) -> list[StackPlan]:
    """The plans whose RDS instance is restored from a snapshot of the release: the deploy gives each the stage's
    database password afterwards (a restored instance has its source's)."""
    return [plan for plan in plans if plan.environment in kind.snapshots]


def _bootstrapped(stage: str, what: str, value: str) -> str:
    if not value:
        raise CloudOpsError(f"stage {stage}'s {what} is unknown: run `cloudops accounts bootstrap {stage}`")
    return value


def _database(release: Release, environment: str) -> str:
    """The database the app of ``environment`` reads: the one its snapshot holds (the release record says)."""
    snapshot = release.snapshots.get(environment)
    return snapshot.database_name(release.application) if snapshot else database_name(release.application, environment)


def _snapshot_arn(release: Release, environment: str) -> str:
    snapshot = release.snapshots.get(environment)
    if snapshot is None:
        raise CloudOpsError(
            f"release {release.id} has no snapshot of {environment}'s database; build the release again "
            f"(build-release takes one per environment with data sets)"
        )
    return snapshot.arn


def lookup_prerequisites(parameter_file: str, stage: str, account_id: str) -> dict[str, str]:
    """A parameter file of cloudops/templates/parameters (CloudFormation's JSON form), for ``stage`` in account
    ``account_id``: its ${stage} and ${account_id} filled in."""
    found = resources.files("cloudops.templates.parameters").joinpath(parameter_file)
    if not found.is_file():
        raise CloudOpsError(f"parameter file {parameter_file} is not in cloudops/templates/parameters")
    raw = json.loads(found.read_text(encoding="utf-8"))
    return {
        p["ParameterKey"]: Template(p["ParameterValue"]).substitute(stage=stage, account_id=account_id) for p in raw
    }


def ensure_environment_file(account: AccountSession, bucket: str, name: str, stage: str) -> bool:
    """The containers' environment file ``name`` in ``bucket``, from cloudops/templates/config when missing (its
    operators edit it in place: never overwritten); True when written now."""
    if s3.object_exists(account, bucket, name):
        return False
    template = resources.files("cloudops.templates.config").joinpath(name).read_text(encoding="utf-8")
    body = Template(template).substitute(stage=stage, account_id=account.account_id, bucket=bucket)
    s3.put_object(account, bucket, name, body.encode(), "text/plain; charset=utf-8")
    return True


def chained_plan(plan: StackPlan, previous_outputs: dict[str, str], ecs_ami_id: str) -> StackPlan:
    """A stack of a chained kind wired to the outputs its registry entry takes from the stack before it, and
    the region's ECS AMI (looked up at deploy time)."""
    wired = {k: previous_outputs[k] for k in plan.inputs if k in previous_outputs}
    return plan.model_copy(update={"parameters": {**plan.parameters, **wired, "EcsAmiId": ecs_ami_id}})


def ecs_ami(account: AccountSession) -> str:
    """The region's ECS-optimised AMI, from AWS's public SSM parameter."""
    value = ssm.get_parameter(account, ECS_AMI_PARAMETER)
    if value is None:
        raise CloudOpsError(
            f"account {account.account_id} has no SSM parameter {ECS_AMI_PARAMETER}: its region has no "
            "ECS-optimised Amazon Linux 2 AMI; choose a region that has one for the stage"
        )
    return value


def keep_database(plan: StackPlan, current: cloudformation.StackInfo | None, restore_database: bool) -> StackPlan:
    """An existing environment keeps its database: a new snapshot identifier would replace the RDS instance
    (and lose, say, Live's orders). New data sets reach it through populate-data; ``restore_database``
    asks for the replacement on purpose."""
    snapshot = current.parameters.get(SNAPSHOT_PARAMETER) if current else None
    if restore_database or not snapshot or SNAPSHOT_PARAMETER not in plan.parameters:
        return plan
    return plan.model_copy(update={"parameters": {**plan.parameters, SNAPSHOT_PARAMETER: snapshot}})


def own_snapshot(account: AccountSession, plan: StackPlan, tags: dict[str, str], log: Log) -> StackPlan:
    """A plan that restores another account's snapshot (the build's, shared with the stage) restores the stage's own
    copy of it instead, under the same identifier and encrypted with the account's key (``AccountKeyArn``): the
    environment's database is then encrypted with the stage's key and needs nothing of the build account's. The
    copy is made once and kept for later restores."""
    source = plan.parameters.get(SNAPSHOT_PARAMETER, "")
    if not source.startswith("arn:") or source.split(":")[4] == account.account_id:
        return plan
    identifier = source.rsplit(":", 1)[-1]
    copied = rds.copy_snapshot(account, source, identifier, plan.parameters[KEY_PARAMETER], tags)
    log(f"stack {plan.stack}: restores {identifier}, the stage's copy of {source} (encrypted with {copied.key})")
    return plan.model_copy(update={"parameters": {**plan.parameters, SNAPSHOT_PARAMETER: identifier}})


def deploy_stack(
    account: AccountSession,
    plan: StackPlan,
    tags: dict[str, str],
    *,
    recreate_failed: bool,
    log: Log,
    show_change_set: Callable[[str], None] = lambda markdown: None,
    restore_database: bool = False,
) -> StackOutcome:
    """Create or update one stack through a change set; "no changes" executes nothing."""
    body = template_body(plan.template)
    cloudformation.validate(account, body, plan.template)
    expected, defaulted = _template_parameters(body)
    missing = sorted(expected - set(plan.parameters) - defaulted)
    unknown = sorted(set(plan.parameters) - set(expected))
    if missing or unknown:
        raise CloudOpsError(
            f"stack {plan.stack}: template {plan.template} "
            + "; ".join(
                part
                for part in (
                    f"needs parameters {', '.join(missing)}" if missing else "",
                    f"has no parameters {', '.join(unknown)}" if unknown else "",
                )
                if part
            )
            + "; nothing was deployed"
        )
    current = cloudformation.describe(account, plan.stack)
    action = decide(plan.stack, current.status if current else None, recreate_failed=recreate_failed)
    kept = keep_database(plan, current if action is Action.UPDATE else None, restore_database)
    if kept is not plan:
        log(
            f"stack {plan.stack}: keeping its database (from {kept.parameters[SNAPSHOT_PARAMETER]}); "
            "pass restore_database=true to replace it with the release's snapshot"
        )
        plan = kept
    else:
        plan = own_snapshot(account, plan, tags, log)
    if action is Action.RECREATE:
        log(f"stack {plan.stack} is {current.status if current else '?'}: deleting it to create it anew, as asked")
        cloudformation.delete(account, plan.stack, execution_role_arn(account.account_id))
        action = Action.CREATE
    change_set = cloudformation.create_change_set(
        account, plan.stack, body, plan.parameters, tags, action, execution_role_arn(account.account_id)
    )
    if change_set is None:
        log(f"stack {plan.stack}: no changes")
        return StackOutcome(
            stack=plan.stack,
            environment=plan.environment,
            action=action.value,
            executed=False,
            outputs=current.outputs if current else {},
        )
    markdown = changes_markdown(plan.stack, change_set.name, list(change_set.changes))
    log(markdown)
    show_change_set(markdown)
    info = cloudformation.execute(account, change_set)
    log(f"stack {plan.stack}: {info.status}")
    return StackOutcome(
        stack=plan.stack,
        environment=plan.environment,
        action=action.value,
        executed=True,
        changes=change_set.changes,
        outputs=info.outputs,
        change_set_markdown=markdown,
    )


def preview_stack(account: AccountSession, plan: StackPlan, tags: dict[str, str]) -> str:
    """What deploying ``plan`` would do, as markdown, changing nothing: an existing stack gets an UPDATE change
    set that is described, then deleted; a stack that does not exist yet would be created."""
    current = cloudformation.describe(account, plan.stack)
    body = template_body(plan.template)
    action = decide(plan.stack, current.status if current else None, recreate_failed=False)
    if action is not Action.UPDATE:
        document = _template(body)
        resources = sorted(f"{name} ({spec.get('Type', '?')})" for name, spec in document["Resources"].items())
        return f"### `{plan.stack}` will be created\n\n{len(resources)} resources: {', '.join(resources)}\n"
    plan = keep_database(plan, current, restore_database=False)
    change_set = cloudformation.create_change_set(
        account, plan.stack, body, plan.parameters, tags, action, execution_role_arn(account.account_id)
    )
    if change_set is None:
        return f"### `{plan.stack}`: no changes\n"
    try:
        return changes_markdown(plan.stack, change_set.name, list(change_set.changes))
    finally:
        cloudformation.discard(account, change_set)


def set_database_password(account: AccountSession, plan: StackPlan) -> str | None:
    """Set the master password of the stack's RDS instance to the stage's secret (``DbPasswordParameter``), which
    the application logs in with (``EP_DB_PASSWORD``); the instance's id, or None when the stack has none or its
    instance has that password already.

    An instance restored from a snapshot keeps the master password of the snapshot's source, the snapshot
    flow's temporary instance, whose password nobody keeps: without this, the application could not log in.
    Checked after every deploy, so a rotated secret, or a first deploy interrupted here, converges. Once set, the
    instance is tagged with the secret's version and its own creation time (never the secret): a deploy that
    finds that tag changes nothing, since each master password change resets the instance's credentials (minutes
    on RDS). A new instance (restored again) or a new version of the secret does not match it.
    """
    name = plan.parameters.get(PASSWORD_PARAMETER)
    instance = cloudformation.physical_id(account, plan.stack, DATABASE_RESOURCE) if name else None
    if not name or instance is None:
        return None
    secret = ssm.get_secret(account, name)
    if secret is None:
        raise CloudOpsError(
            f"account {account.account_id} has no database password parameter {name}; deploy again "
            "(the deploy creates it before the stacks)"
        )
    arn, created, tags = rds.instance_tags(account, instance)
    mark = f"{secret.version}@{created}"
    if tags.get(PASSWORD_MARK_TAG) == mark:
        return None
    rds.set_master_password(account, instance, secret.value)
    rds.tag_instance(account, arn, {PASSWORD_MARK_TAG: mark})
    return instance


def app_endpoints(outcomes: list[StackOutcome]) -> dict[str, str]:
    """Each stack's application endpoint (its ``AppEndpoint`` output), by environment."""
    return {o.environment: o.outputs[APP_ENDPOINT] for o in outcomes if APP_ENDPOINT in o.outputs}


def links(values: dict[str, str]) -> dict[str, str]:
    """The values of a stage's config store that a person can open (http and https URLs), by name."""
    return {name: value for name, value in values.items() if value.startswith(("http://", "https://"))}


def publish_endpoints(
    store: config_store.ConfigStore, stage: str, application: str, outcome: StackOutcome
) -> dict[str, str]:
    values = {OUTPUT_KEYS[k]: v for k, v in outcome.outputs.items() if k in OUTPUT_KEYS}
    values["stack"] = outcome.stack
    store.put(config_store.path(stage, application, outcome.environment), values)
    return values


def published_endpoints(stage: str, application: str, environment: str, values: dict[str, str]) -> dict[str, str]:
    """What :func:`publish_endpoints` wrote (``values``), by full parameter name as the stage's config store names
    it, secrets left out: the same shape as reading the application's path back."""
    base = config_store.path(stage, application, environment)
    return {f"{base}/{key}": value for key, value in config_store.endpoints(values).items()}


def _template_parameters(body: str) -> tuple[set[str], set[str]]:
    """A template's parameters, and those with a Default (read from its Parameters section)."""
    parameters = _template(body).get("Parameters") or {}
    return set(parameters), {name for name, spec in parameters.items() if "Default" in (spec or {})}


def _template(body: str) -> dict[str, Any]:
    """A template as data; its CloudFormation tags (!Ref, !Sub ...) read as nothing."""
    import yaml

    class _Loader(yaml.SafeLoader):
        pass

    _Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    document: dict[str, Any] = yaml.load(body, Loader=_Loader)  # a SafeLoader with the tags read as nothing
    return document
