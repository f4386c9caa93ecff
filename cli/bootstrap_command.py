"""``cloudops accounts bootstrap``: each stage account's stack cloudops-bootstrap, through its administrator."""

from __future__ import annotations

import re

import typer
from pydantic import SecretStr

from cloudops.aws.session import AccountCredentials, open_account
from cloudops.bootstrap import Trust, bootstrap_account
from cloudops.errors import ConfigurationError
from cloudops.settings import Settings

PRINCIPAL = re.compile(r"^arn:aws[a-z-]*:(iam|sts)::\d{12}:.+$")
ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")


def bootstrap_accounts(
    settings: Settings,
    stages: list[str],
    principal: str,
    external_id: str | None,
    profile: str | None,
    via_role: str | None,
    ecs_pool: bool | None = None,
) -> None:
    """Check every input first, then bootstrap each stage's account in promotion order, one line each."""
    if not PRINCIPAL.match(principal):
        raise ConfigurationError(
            f"--principal {principal!r} is not an IAM principal's ARN; give the ARN the pipeline's workers run as "
            "(arn:aws:iam::<account>:role/<name> or :user/<name>)"
        )
    if via_role is not None and not ROLE_NAME.match(via_role):
        raise ConfigurationError(
            f"--via-role {via_role!r} is not a role name; give a name such as OrganizationAccountAccessRole"
        )
    for stage in stages:
        settings.stage(stage)  # an unknown stage fails before any account is touched, naming the stages
    trust = Trust(principal, SecretStr(external_id) if external_id else None)
    for stage in [s for s in settings.promotion_order() if not stages or s in stages]:
        conf = settings.stage(stage)
        role_arn = f"arn:aws:iam::{conf.account_id}:role/{via_role}" if via_role else None
        credentials = AccountCredentials(
            account_id=conf.account_id, region=conf.region, profile_name=profile, role_arn=role_arn
        )
        admin = open_account(credentials, where=f"the administrator of stage {stage}'s account")
        result = bootstrap_account(admin, settings, stage, trust, ecs_pool if stage == settings.build_stage else None)
        changed = ", ".join(result.created) or "nothing changed"
        typer.echo(f"{stage:<10} account {conf.account_id}: {changed}")
