"""Tasks over the stage accounts."""

from __future__ import annotations

from prefect import task

from blocks.aws_account import AwsAccount
from cloudops.aws import ecr, s3
from cloudops.settings import Stage
from tasks.retry import AWS_RETRIES


@task(name="describe-account", **AWS_RETRIES)
def describe_account(stage_name: str, stage: Stage, account: AwsAccount) -> dict[str, str]:
    """What the stage's account holds: its bucket, repositories and registry (the account is verified)."""
    session = account.session()
    return {
        "stage": stage_name,
        "account": session.account_id,
        "region": session.region,
        "block": stage.credential_block,
        "bucket": stage.bucket if s3.bucket_exists(session, stage.bucket) else f"{stage.bucket} (missing)",
        "repositories": ", ".join(ecr.list_repositories(session)) or "(none)",
        "registry": account.registry_login().host,
        "promotes from": stage.promotes_from or "(builds images)",
    }
