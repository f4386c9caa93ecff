"""Tasks of the snapshot flow."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from blocks.aws_account import AwsAccount
from cloudops import snapshots
from tasks.retry import AWS_RETRIES


@task(name="snapshot-environment", task_run_name="snapshot-{environment}", cache_policy=NO_CACHE, **AWS_RETRIES)
def snapshot_environment(
    account: AwsAccount,
    databases: snapshots.InstanceDatabases,
    application: str,
    environment: str,
    version: str,
    datasets: Path,
    share_with: list[str],
    instance_class: str,
) -> snapshots.SnapshotRecord:
    logger = get_run_logger()
    return snapshots.snapshot_environment(
        account.session(),
        databases,
        application=application,
        environment=environment,
        version=version,
        datasets=datasets,
        share_with=share_with,
        instance_class=instance_class,
        log=logger.info,
    )
