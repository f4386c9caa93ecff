"""The Author and Live database snapshots of a release (CreateRdsSnapshotAuthor / CreateRdsSnapshotLive).

For one environment: start a temporary RDS instance (from the environment's previous snapshot when
there is one), apply the data sets it lacks, snapshot it under the release's name, delete the
instance, and share the snapshot with the stage accounts that deploy the release.

Where an instance's data really lives is behind :class:`InstanceDatabases`: on AWS it is the
instance itself (RDS copies data into snapshots and out of them); in the sandbox, moto serves the RDS
API and each instance's database is a database of the sandbox's MariaDB
(``sandbox.rds_databases``).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from cloudops import datapop
from cloudops.aws import kms, rds
from cloudops.aws.session import AccountSession
from cloudops.config_store import ACCOUNT_KEY_ALIAS
from cloudops.errors import CloudOpsError

MASTER_USER = "cloudops"
Log = Callable[[str], None]


class InstanceDatabases(Protocol):
    """Where the database of an RDS instance is, and what happens to its data on snapshot and restore."""

    def target(self, instance: rds.DbInstance, database: str, master_password: SecretStr) -> datapop.MySqlTarget: ...

    def snapshot_taken(self, instance: str, snapshot: str) -> None: ...

    def restored(self, snapshot: str, instance: str) -> None: ...

    def deleted(self, instance: str) -> None: ...


class RdsInstanceDatabases:
    """Real RDS: the database is the instance's endpoint; RDS itself moves data into and out of snapshots."""

    def target(self, instance: rds.DbInstance, database: str, master_password: SecretStr) -> datapop.MySqlTarget:
        return datapop.MySqlTarget(
            host=instance.host,
            port=instance.port,
            user=instance.master_user,
            password=master_password,
            database=database,
        )

    def snapshot_taken(self, instance: str, snapshot: str) -> None:
        return None

    def restored(self, snapshot: str, instance: str) -> None:
        return None

    def deleted(self, instance: str) -> None:
        return None


class SnapshotRecord(BaseModel):
    """A release's snapshot of one environment's database."""

    model_config = ConfigDict(frozen=True)

    environment: str
    identifier: str
    arn: str
    shared_with: tuple[str, ...]
    from_snapshot: str | None = None
    applied: tuple[str, ...] = ()
    created: bool
    database: str = Field(
        default="", description="The database it holds, which the app reads (empty in older records: the default)."
    )

    def database_name(self, application: str) -> str:
        return self.database or database_name(application, self.environment)


def database_name(application: str, environment: str) -> str:
    """The database an environment's data sets are applied to (in its snapshot and in the MySQL image)."""
    return f"{application}_{environment}"


def snapshot_name(application: str, environment: str, version: str) -> str:
    """An RDS snapshot identifier for the release: letters, digits and single hyphens, at most 255."""
    name = re.sub(r"[^A-Za-z0-9]+", "-", f"{application}-{environment}-{version}").strip("-").lower()
    if not name[:1].isalpha():
        name = f"s-{name}"
    return name[:255].rstrip("-")


def instance_name(application: str, environment: str, version: str) -> str:
    digest = hashlib.sha256(version.encode()).hexdigest()[:10]
    return re.sub(r"[^a-z0-9-]+", "-", f"{application}-{environment}-build-{digest}".lower())[:63]


def snapshot_environment(
    account: AccountSession,
    databases: InstanceDatabases,
    *,
    application: str,
    environment: str,
    version: str,
    datasets: Path,
    share_with: list[str],
    instance_class: str,
    log: Log,
) -> SnapshotRecord:
    """The release's snapshot of ``environment``: made unless it exists, then shared with ``share_with``."""
    identifier = snapshot_name(application, environment, version)
    existing = rds.get_snapshot(account, identifier)
    if existing is not None and existing.status == "available":
        shared = rds.share_snapshot(account, identifier, share_with)
        log(f"snapshot {identifier} exists; not taken again (shared with {', '.join(shared) or 'nobody'})")
        return SnapshotRecord(
            environment=environment,
            identifier=identifier,
            arn=existing.arn,
            shared_with=tuple(shared),
            created=False,
            database=database_name(application, environment),
        )
    if existing is not None:
        raise CloudOpsError(f"snapshot {identifier} exists but is {existing.status}; delete it and run again")
    instance = instance_name(application, environment, version)
    if rds.instance_exists(account, instance):
        log(f"deleting instance {instance} left by an interrupted run")
        rds.delete_instance(account, instance)
        databases.deleted(instance)
    previous = rds.latest_snapshot(account, f"{snapshot_name(application, environment, '')}-", exclude=identifier)
    if previous is not None and not previous.key:
        # a restore keeps its snapshot's encryption: start empty (every data set applies) for an encrypted one
        log(f"snapshot {previous.identifier} is not encrypted: not restored, so that {identifier} is")
        previous = None
    password = SecretStr(secrets.token_urlsafe(24))
    log(f"starting instance {instance}" + (f" from snapshot {previous.identifier}" if previous else " (empty)"))
    started = rds.start_instance(
        account,
        instance,
        master_user=MASTER_USER,
        master_password=password,
        from_snapshot=previous.identifier if previous else None,
        instance_class=instance_class,
        tags={"cloudops:application": application, "cloudops:environment": environment, "cloudops:version": version},
        key=kms.key_arn(account, ACCOUNT_KEY_ALIAS),  # the build account's, which lets the stages copy what it shares
    )
    try:
        if previous is not None:
            databases.restored(previous.identifier, instance)
        target = databases.target(started, database_name(application, environment), password)
        report = datapop.populate(target, datasets, environment)
        log(f"{environment}: applied {', '.join(report.applied) or 'nothing new'}")
        snapshot = rds.create_snapshot(
            account, instance, identifier, {"cloudops:application": application, "cloudops:version": version}
        )
        databases.snapshot_taken(instance, identifier)
    finally:
        rds.delete_instance(account, instance)
        databases.deleted(instance)
    shared = rds.share_snapshot(account, identifier, share_with)
    log(f"snapshot {identifier} available, shared with {', '.join(shared) or 'nobody'}; instance {instance} deleted")
    return SnapshotRecord(
        environment=environment,
        identifier=identifier,
        arn=snapshot.arn,
        shared_with=tuple(shared),
        from_snapshot=previous.identifier if previous else None,
        applied=tuple(report.applied),
        created=True,
        database=database_name(application, environment),
    )
