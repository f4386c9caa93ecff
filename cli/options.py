"""Options several commands share."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from cloudops.settings import RDS_DATABASES_ENV, Settings

RdsDatabases = Annotated[
    str | None,
    typer.Option(
        help="The block keeping RDS instances' data where RDS does not (the sandbox's environment sets it: "
        f"${RDS_DATABASES_ENV}); none on AWS."
    ),
]


def who_runs_this(settings: Settings) -> str:
    """Who starts a run from this terminal: the ARN of your AWS credentials as STS verifies it (so a stage that
    forbids self-approval knows you by it), or your login name when you have no AWS credentials."""
    import getpass

    from cloudops.aws import sts
    from cloudops.errors import CloudOpsError

    try:
        return sts.caller_arn(None, settings.stage(settings.build_stage).region) or getpass.getuser()
    except CloudOpsError:
        return getpass.getuser()


def use_rds_databases(reference: str | None) -> None:
    """Give the runs of this command ``reference`` as the configuration's ``rds_databases``."""
    if reference:
        os.environ[RDS_DATABASES_ENV] = reference


ConfigFile = Annotated[
    Path | None,
    typer.Option("--config", help="The configuration file [default: $CLOUDOPS_CONFIG_FILE or ./cloudops.toml]."),
]
