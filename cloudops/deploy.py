"""Deploying a release into one stage's account: which stacks a kind of environment has, their
parameters (images by digest, snapshots by id), and one stack's create-or-update through a change set."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from string import Template
from typing import Any

from pydantic import BaseModel, ConfigDict

from cloudops import config_store
from cloudops.aws import cloudformation, ec2, s3, ssm
from cloudops.aws.session import AccountSession
from cloudops.errors import CloudOpsError
from cloudops.release import Release
from cloudops.stacks import Action, ResourceChange, changes_markdown, decide

KINDS = ("author-live", "single-instance", "lookup-service")
IMAGES = {
    "author-live": ["app", "broker"],
    "single-instance": ["app", "broker", "mysql"],
    "lookup-service": ["app", "mysql"],
}
TEMPLATES_OF = {
    "author-live": ("author-live",),
    "single-instance": ("single-instance",),
    "lookup-service": ("lookup-prerequisites", "lookup-service"),
}
ENVIRONMENTS = {"author-live": ["author", "live"], "single-instance": [], "lookup-service": []}
CONFIG_FILES = {
    "author-live": ["author.env", "live.env"],
    "single-instance": ["single-instance-mysql-container.env"],
    "lookup-service": [],
}
OUTPUT_KEYS = {
    "AppEndpoint": "app_endpoint",
    "DatabaseEndpoint": "database_endpoint",
    "DatabasePort": "database_port",
    "BrokerEndpoint": "broker_endpoint",
    "ClusterName": "cluster",
}
SNAPSHOT_PARAMETER = "DbSnapshotIdentifier"
ECS_AMI_PARAMETER = "/aws/service/ecs/optimized-ami/amazon-linux-2/recommended/image_id"
Log = Callable[[str], None]


class StackPlan(BaseModel):
    model_config = ConfigDict(frozen=True)

    stack: str
    template: str
    environment: str
    parameters: dict[str, str]


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


def check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise CloudOpsError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")


TEMPLATES: Traversable = resources.files("cloudops.templates.stacks")


def template_body(name: str) -> str:
    return TEMPLATES.joinpath(f"{name}.yaml").read_text(encoding="utf-8")


def validate_templates(account: AccountSession, kind: str) -> None:
    """Every template of ``kind``, validated by CloudFormation before anything is touched."""
    check_kind(kind)
    for name in TEMPLATES_OF[kind]:
        cloudformation.validate(account, template_body(name), name)


def stage_network(account: AccountSession, vpc_id: str | None, subnet_ids: tuple[str, ...]) -> tuple[str, list[str]]:
    """The stage's configured VPC and subnets, or its account's default VPC."""
    if vpc_id:
        return vpc_id, list(subnet_ids)
    return default_network(account)


def default_network(account: AccountSession) -> tuple[str, list[str]]:
    """The account's default VPC and two of its subnets (for a stage configured with "default")."""
    vpc = ec2.default_vpc(account)
    if vpc is None:
        raise CloudOpsError(
            f"account {account.account_id} has no default VPC; set VpcId and SubnetIds in the stage's parameter file"
        )
    return vpc, ec2.subnets(account, vpc)[:2]


def image_ref(registry_host: str, release: Release, name: str) -> str:
    return f"{registry_host}/{name}@{release.images[name].digest}"


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
    check_kind(kind)
    if kind == "author-live":
        return [(f"{application}-{stage}-{environment}", environment) for environment in ("author", "live")]
    if kind == "single-instance":
        return [(f"{application}-{stage}-single-instance", "single-instance")]
    return [(f"lookup-{stage}-prerequisites", "lookup"), (f"lookup-{stage}", "lookup")]


def teardown_stacks(kind: str, application: str, stage: str) -> list[tuple[str, str]]:
    """(stack name, environment) of each stack teardown deletes, newest first. The lookup service keeps its
    prerequisites stack: its bucket holds the environment file and its EFS the data (the template retains
    both), and a retained bucket would stop the next deploy from creating that stack again."""
    named = stacks(kind, application, stage)
    return list(reversed(named[1:] if kind == "lookup-service" else named))


def plans(
    kind: str, stage: str, bucket: str, release: Release, registry_host: str, network: tuple[str, list[str]]
) -> list[StackPlan]:
    """The stacks of ``kind`` for the release in the stage, in the order they deploy."""
    app = release.application
    names = stacks(kind, app, stage)
    templates = TEMPLATES_OF[kind]  # the templates validate_templates checks
    vpc, subnets = network
    common = {"Application": app, "Stage": stage, "VpcId": vpc, "SubnetIds": ",".join(subnets)}
    if kind == "author-live":
        return [
            StackPlan(
                stack=stack,
                template=templates[0],
                environment=environment,
                parameters={
                    **common,
                    "Environment": environment,
                    "AppImage": image_ref(registry_host, release, "app"),
                    "BrokerImage": image_ref(registry_host, release, "broker"),
                    "DbSnapshotIdentifier": release.snapshots[environment].arn,
                    "DbPasswordParameter": config_store.path(stage, app, environment, "db-password"),
                    "ConfigBucket": bucket,
                },
            )
            for stack, environment in names
        ]
    if kind == "single-instance":
        return [
            StackPlan(
                stack=names[0][0],
                template=templates[0],
                environment="single-instance",
                parameters={
                    **common,
                    "AppImage": image_ref(registry_host, release, "app"),
                    "BrokerImage": image_ref(registry_host, release, "broker"),
                    "MysqlImage": image_ref(registry_host, release, "mysql"),
                    "DbPasswordParameter": config_store.path(stage, app, "single-instance", "db-password"),
                    "ConfigBucket": bucket,
                },
            )
        ]
    return [
        StackPlan(stack=names[0][0], template=templates[0], environment="lookup", parameters={}),
        StackPlan(
            stack=names[1][0],
            template=templates[1],
            environment="lookup",
            parameters={
                "Stage": stage,
                "AWSVpcId": vpc,
                "SubnetIds": ",".join(subnets),
                "AppImage": image_ref(registry_host, release, "app"),
                "MysqlImage": image_ref(registry_host, release, "mysql"),
            },
        ),
    ]


def lookup_prerequisites(parameter_file: Path, account_id: str, network: tuple[str, list[str]]) -> dict[str, str]:
    """A stage's prerequisites parameter file (CloudFormation's JSON form); "default" means the default VPC."""
    if not parameter_file.is_file():
        raise CloudOpsError(f"{parameter_file} does not exist; add the stage's lookup prerequisites parameter file")
    raw = json.loads(parameter_file.read_text())
    values = {p["ParameterKey"]: Template(p["ParameterValue"]).substitute(account_id=account_id) for p in raw}
    if values.get("AWSVpcId") == "default":
        values["AWSVpcId"] = network[0]
    if values.get("SubnetIds") == "default":
        values["SubnetIds"] = ",".join(network[1])
    return values


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
    if action is Action.RECREATE:
        log(f"stack {plan.stack} is {current.status if current else '?'}: deleting it to create it anew, as asked")
        cloudformation.delete(account, plan.stack)
        action = Action.CREATE
    change_set = cloudformation.create_change_set(account, plan.stack, body, plan.parameters, tags, action)
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
    change_set = cloudformation.create_change_set(account, plan.stack, body, plan.parameters, tags, action)
    if change_set is None:
        return f"### `{plan.stack}`: no changes\n"
    try:
        return changes_markdown(plan.stack, change_set.name, list(change_set.changes))
    finally:
        cloudformation.discard(account, change_set)


def publish_endpoints(
    store: config_store.ConfigStore, stage: str, application: str, outcome: StackOutcome
) -> dict[str, str]:
    values = {OUTPUT_KEYS[k]: v for k, v in outcome.outputs.items() if k in OUTPUT_KEYS}
    values["stack"] = outcome.stack
    store.put(config_store.path(stage, application, outcome.environment), values)
    return values


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
