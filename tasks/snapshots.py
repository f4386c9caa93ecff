"""Tasks of the snapshot flow."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from blocks.aws_account import AwsAccount
from blocks.mysql_server import MySqlServer
from cloudops import snapshots
from tasks.retry import AWS_RETRIES


@task(name="snapshot-environment", task_run_name="snapshot-{environment}", cache_policy=NO_CACHE, **AWS_RETRIES)
def snapshot_environment(
    account: AwsAccount,
    rds_databases: MySqlServer | None,
    application: str,
    environment: str,
    version: str,
    datasets: Path,
    share_with: list[str],
    instance_class: str,
) -> snapshots.SnapshotRecord:
    logger = get_run_logger()
    databases = rds_databases.instance_databases() if rds_databases else snapshots.RdsInstanceDatabases()
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
