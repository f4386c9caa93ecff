"""Bootstrapping a stage's AWS account, and the check every run makes first that it was.

``cloudops accounts bootstrap`` deploys the account's stack ``cloudops-bootstrap``
(:mod:`cloudops.bootstrap_template`) with the caller's own rights (an administrator of the account: it creates the
roles every later run acts through), then writes the config files the account's operators edit in place
(:mod:`cloudops.accounts`). ``cloudops sandbox up`` bootstraps its accounts through the same function.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from pydantic import SecretStr

from cloudops import flow_run_cluster
from cloudops.accounts import AccountInit, write_config_files
from cloudops.aws import cloudformation, s3, ssm
from cloudops.aws.session import AccountSession
from cloudops.bootstrap_template import (
    BOOTSTRAP_STACK,
    BOOTSTRAP_VERSION,
    VERSION_PARAMETER,
    bootstrap_parameters,
    bootstrap_template,
)
from cloudops.errors import CloudOpsError
from cloudops.settings import Settings
from cloudops.stacks import Action


class NotBootstrappedError(CloudOpsError):
    """A stage account without the bootstrap this cloudops needs."""


class BucketOutsideBootstrapError(CloudOpsError):
    """The stage's bucket exists, but not as the bootstrap stack's: the stack cannot create it."""


@dataclass(frozen=True)
class Trust:
    """Who may assume the pipeline's roles: the principal its workers run as, and the external id it gives."""

    principal: str
    external_id: SecretStr | None = None


def bootstrap_account(
    admin: AccountSession, settings: Settings, stage: str, trust: Trust, ecs_pool: bool | None = None
) -> AccountInit:
    """Create or bring up to date ``stage``'s bootstrap stack through ``admin`` (the account's administrator), then
    its config files; what was created and what was there. ``ecs_pool`` adds (True) or leaves out (False) the
    build account's flow-run cluster; None keeps what the stack has."""
    conf = settings.stage(stage)
    if admin.account_id != conf.account_id:
        raise CloudOpsError(
            f"stage {stage} is account {conf.account_id}, and these credentials are of account {admin.account_id}: "
            "bootstrap each stage with its own account's administrator credentials"
        )
    report = AccountInit(stage, conf.account_id)
    existing = cloudformation.describe(admin, BOOTSTRAP_STACK)
    if ecs_pool is None:
        ecs_pool = existing is not None and flow_run_cluster.OUTPUT in existing.outputs
    body = json.dumps(bootstrap_template(settings, stage, ecs_pool), indent=1)
    external_id = trust.external_id.get_secret_value() if trust.external_id else None
    parameters = bootstrap_parameters(settings, stage, trust.principal, external_id)
    if existing is None and s3.bucket_exists(admin, conf.bucket):
        raise BucketOutsideBootstrapError(
            f"account {conf.account_id} has bucket {conf.bucket} already, not made by the bootstrap stack, which "
            f"must create it (with its versioning and lock): empty and delete it, or name another bucket in "
            f"stages.{stage}.bucket; nothing was changed"
        )
    action = Action.CREATE if existing is None else Action.UPDATE
    tags = {"cloudops:stage": stage, "cloudops:bootstrap-version": str(BOOTSTRAP_VERSION)}
    change_set = cloudformation.create_change_set(admin, BOOTSTRAP_STACK, body, parameters, tags, action, None)
    if change_set is not None:
        cloudformation.execute(admin, change_set)
    report.note(f"stack {BOOTSTRAP_STACK} (version {BOOTSTRAP_VERSION})", change_set is not None)
    for key, created in write_config_files(admin, stage, conf):
        report.note(f"s3://{conf.bucket}/{key}", created)
    return report


@dataclass(frozen=True)
class AccountResources:
    """What an account's bootstrap stack made that the stage's environments use: its KMS key (``alias/cloudops``),
    its access-log bucket, and the role RDS enhanced monitoring publishes with."""

    key_arn: str
    log_bucket: str
    monitoring_role_arn: str


ACCOUNT_OUTPUTS = {"key_arn": "KeyArn", "log_bucket": "LogBucketName", "monitoring_role_arn": "MonitoringRoleArn"}


def account_resources(account: AccountSession, stage: str) -> AccountResources:
    """The account's :class:`AccountResources`, from its bootstrap stack's outputs."""
    stack = cloudformation.describe(account, BOOTSTRAP_STACK)
    missing = [output for output in ACCOUNT_OUTPUTS.values() if stack is None or output not in stack.outputs]
    if stack is None or missing:
        raise NotBootstrappedError(
            f"account {account.account_id} of stage {stage} has no bootstrap stack {BOOTSTRAP_STACK} with its "
            f"{', '.join(missing)}: run `cloudops accounts bootstrap {stage}` with the account's administrator "
            "credentials"
        )
    return AccountResources(**{field: stack.outputs[output] for field, output in ACCOUNT_OUTPUTS.items()})


def check_bootstrap(account: AccountSession, stage: str) -> None:
    """Refuse, in one line naming the command to run, an account whose bootstrap is missing or older than this
    cloudops needs."""
    found = ssm.get_parameter(account, VERSION_PARAMETER)
    fix = f"run `cloudops accounts bootstrap {stage}` with the account's administrator credentials"
    if found is None:
        raise NotBootstrappedError(f"account {account.account_id} of stage {stage} is not bootstrapped: {fix}")
    if not found.isdigit() or int(found) < BOOTSTRAP_VERSION:
        raise NotBootstrappedError(
            f"account {account.account_id} of stage {stage} has bootstrap version {found}, and this cloudops needs "
            f"{BOOTSTRAP_VERSION}: {fix}"
        )
