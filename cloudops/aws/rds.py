"""The RDS adapter: temporary instances, snapshots, and sharing snapshots with other accounts."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError, WaiterError
from pydantic import BaseModel, ConfigDict, SecretStr

from cloudops.aws.session import AccountSession
from cloudops.errors import AwsError

WAITER = {"Delay": 10, "MaxAttempts": 180}


class DbInstance(BaseModel):
    model_config = ConfigDict(frozen=True)

    identifier: str
    host: str
    port: int
    master_user: str
    status: str


class DbSnapshot(BaseModel):
    model_config = ConfigDict(frozen=True)

    identifier: str
    arn: str
    status: str
    instance: str
    created: str = ""


def _error(action: str, error: ClientError) -> AwsError:
    return AwsError(
        f"RDS {action} failed: {error.response['Error'].get('Code')}: {error.response['Error'].get('Message')}"
    )


def _instance(data: dict[str, Any]) -> DbInstance:
    endpoint = data.get("Endpoint") or {}
    return DbInstance(
        identifier=data["DBInstanceIdentifier"],
        host=endpoint.get("Address", ""),
        port=int(endpoint.get("Port", 3306)),
        master_user=data.get("MasterUsername", ""),
        status=data.get("DBInstanceStatus", ""),
    )


def _snapshot(data: dict[str, Any]) -> DbSnapshot:
    created = data.get("SnapshotCreateTime")
    return DbSnapshot(
        identifier=data["DBSnapshotIdentifier"],
        arn=data["DBSnapshotArn"],
        status=data.get("Status", ""),
        instance=data.get("DBInstanceIdentifier", ""),
        created=created.isoformat() if created is not None else "",
    )


def start_instance(
    account: AccountSession,
    identifier: str,
    *,
    master_user: str,
    master_password: SecretStr,
    from_snapshot: str | None,
    instance_class: str,
    tags: dict[str, str],
) -> DbInstance:
    """Create an instance (restored from ``from_snapshot`` when given) and wait until it is available."""
    rds = account.client("rds")
    tag_list = [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
    try:
        if from_snapshot:
            rds.restore_db_instance_from_db_snapshot(
                DBInstanceIdentifier=identifier,
                DBSnapshotIdentifier=from_snapshot,
                DBInstanceClass=instance_class,
                PubliclyAccessible=False,
                Tags=tag_list,
            )
        else:
            rds.create_db_instance(
                DBInstanceIdentifier=identifier,
                Engine="mysql",  # the seeds run MySQL on RDS; the sandbox stands in with MariaDB
                DBInstanceClass=instance_class,
                AllocatedStorage=20,
                MasterUsername=master_user,
                MasterUserPassword=master_password.get_secret_value(),
                PubliclyAccessible=False,
                BackupRetentionPeriod=0,
                Tags=tag_list,
            )
        rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier=identifier, WaiterConfig=WAITER)
        if from_snapshot:
            # A restored instance keeps the master password of the snapshot's source: set this run's.
            rds.modify_db_instance(
                DBInstanceIdentifier=identifier,
                MasterUserPassword=master_password.get_secret_value(),
                ApplyImmediately=True,
            )
            rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier=identifier, WaiterConfig=WAITER)
        found = rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]
    except ClientError as error:
        raise _error(f"start of instance {identifier}", error) from None
    except WaiterError as error:
        raise AwsError(f"instance {identifier} did not become available: {error}") from None
    return _instance(found)


def delete_instance(account: AccountSession, identifier: str) -> None:
    """Delete a temporary instance without a final snapshot, and wait until it is gone."""
    rds = account.client("rds")
    try:
        rds.delete_db_instance(DBInstanceIdentifier=identifier, SkipFinalSnapshot=True, DeleteAutomatedBackups=True)
        rds.get_waiter("db_instance_deleted").wait(DBInstanceIdentifier=identifier, WaiterConfig=WAITER)
    except ClientError as error:
        if error.response["Error"].get("Code") == "DBInstanceNotFound":
            return
        raise _error(f"deletion of instance {identifier}", error) from None


def instance_exists(account: AccountSession, identifier: str) -> bool:
    try:
        account.client("rds").describe_db_instances(DBInstanceIdentifier=identifier)
    except ClientError as error:
        if error.response["Error"].get("Code") == "DBInstanceNotFound":
            return False
        raise _error(f"lookup of instance {identifier}", error) from None
    return True


def create_snapshot(account: AccountSession, instance: str, identifier: str, tags: dict[str, str]) -> DbSnapshot:
    """Snapshot ``instance`` as ``identifier`` and wait until the snapshot is available."""
    rds = account.client("rds")
    try:
        rds.create_db_snapshot(
            DBSnapshotIdentifier=identifier,
            DBInstanceIdentifier=instance,
            Tags=[{"Key": k, "Value": v} for k, v in sorted(tags.items())],
        )
        rds.get_waiter("db_snapshot_available").wait(DBSnapshotIdentifier=identifier, WaiterConfig=WAITER)
    except ClientError as error:
        raise _error(f"snapshot {identifier} of {instance}", error) from None
    except WaiterError as error:
        raise AwsError(f"snapshot {identifier} did not become available: {error}") from None
    found = get_snapshot(account, identifier)
    assert found is not None
    return found


def get_snapshot(account: AccountSession, identifier: str) -> DbSnapshot | None:
    try:
        found = account.client("rds").describe_db_snapshots(DBSnapshotIdentifier=identifier)["DBSnapshots"]
    except ClientError as error:
        if error.response["Error"].get("Code") == "DBSnapshotNotFound":
            return None
        raise _error(f"lookup of snapshot {identifier}", error) from None
    return _snapshot(found[0]) if found else None


def latest_snapshot(account: AccountSession, prefix: str, exclude: str = "") -> DbSnapshot | None:
    """The most recent available manual snapshot whose identifier starts with ``prefix``."""
    paginator = account.client("rds").get_paginator("describe_db_snapshots")
    snapshots = [
        _snapshot(s)
        for page in paginator.paginate(SnapshotType="manual")
        for s in page["DBSnapshots"]
        if s["DBSnapshotIdentifier"].startswith(prefix)
        and s["DBSnapshotIdentifier"] != exclude
        and s.get("Status") == "available"
    ]
    return max(snapshots, key=lambda s: (s.created, s.identifier)) if snapshots else None


def share_snapshot(account: AccountSession, identifier: str, account_ids: list[str]) -> list[str]:
    """Let ``account_ids`` restore the snapshot; the accounts it is shared with afterwards."""
    rds = account.client("rds")
    try:
        # Only the accounts it is not shared with yet: a re-run writes nothing. (NOTE: real RDS ignores an
        # account already in the list; moto appends it again and soon fails with SharedSnapshotQuotaExceeded.)
        current = shared_with(account, identifier)
        missing = sorted(set(account_ids) - set(current))
        if missing:
            rds.modify_db_snapshot_attribute(
                DBSnapshotIdentifier=identifier, AttributeName="restore", ValuesToAdd=missing
            )
            return shared_with(account, identifier)
        return current
    except ClientError as error:
        raise _error(f"sharing of snapshot {identifier}", error) from None


def shared_with(account: AccountSession, identifier: str) -> list[str]:
    result = account.client("rds").describe_db_snapshot_attributes(DBSnapshotIdentifier=identifier)
    for attribute in result["DBSnapshotAttributesResult"]["DBSnapshotAttributes"]:
        if attribute["AttributeName"] == "restore":
            return sorted(attribute.get("AttributeValues", []))
    return []


def delete_snapshot(account: AccountSession, identifier: str) -> None:
    try:
        account.client("rds").delete_db_snapshot(DBSnapshotIdentifier=identifier)
    except ClientError as error:
        if error.response["Error"].get("Code") != "DBSnapshotNotFound":
            raise _error(f"deletion of snapshot {identifier}", error) from None
