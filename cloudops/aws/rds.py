"""The RDS adapter: temporary instances, snapshots, and sharing snapshots with other accounts."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError, WaiterError
from pydantic import BaseModel, ConfigDict, SecretStr

from cloudops.aws.errors import aws_call, code, translate
from cloudops.aws.session import AccountSession

WAITER = {"Delay": 10, "MaxAttempts": 180}
# A password change is done in seconds: polled more often, for as long in all (30 minutes).
PASSWORD_WAITER = {"Delay": 3, "MaxAttempts": 600}


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
    key: str = ""  # the KMS key it is encrypted with; empty: not encrypted


def _wait(account: AccountSession, waiter: str, what: str, config: dict[str, int] = WAITER, **kwargs: str) -> None:
    """Wait with RDS's ``waiter``; a wait that ends in failure or runs out of time is ``what`` not becoming
    ready (transient when its last answer was a throttle or a 5xx)."""
    try:
        account.client("rds").get_waiter(waiter).wait(**kwargs, WaiterConfig=config)
    except WaiterError as error:
        raise translate(error, f"waiting for {what} ({waiter})") from None


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
        key=data.get("KmsKeyId", "") if data.get("Encrypted") else "",
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
    key: str,
) -> DbInstance:
    """Create an instance (restored from ``from_snapshot`` when given) and wait until it is available. A new
    instance's storage is encrypted with ``key`` (a KMS key id, ARN or alias); a restored one has its snapshot's."""
    rds = account.client("rds")
    tag_list = [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
    with aws_call(f"RDS start of instance {identifier}"):
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
                StorageEncrypted=True,
                KmsKeyId=key,
                Tags=tag_list,
            )
        _wait(account, "db_instance_available", f"instance {identifier}", DBInstanceIdentifier=identifier)
        if from_snapshot:
            # A restored instance keeps the master password of the snapshot's source: set this run's.
            rds.modify_db_instance(
                DBInstanceIdentifier=identifier,
                MasterUserPassword=master_password.get_secret_value(),
                ApplyImmediately=True,
            )
            _wait(account, "db_instance_available", f"instance {identifier}", DBInstanceIdentifier=identifier)
        found = rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]
    return _instance(found)


def instance_tags(account: AccountSession, identifier: str) -> tuple[str, str, dict[str, str]]:
    """The instance's ARN, its creation time (ISO 8601: a restored instance is a new one) and its tags."""
    rds = account.client("rds")
    with aws_call(f"RDS tags of instance {identifier}"):
        (found,) = rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"]
        arn = str(found["DBInstanceArn"])
        tags = rds.list_tags_for_resource(ResourceName=arn)["TagList"]
    created = found.get("InstanceCreateTime")
    return arn, created.isoformat() if created else "", {t["Key"]: t["Value"] for t in tags}


def tag_instance(account: AccountSession, arn: str, tags: dict[str, str]) -> None:
    with aws_call(f"tagging RDS instance {arn}"):
        account.client("rds").add_tags_to_resource(
            ResourceName=arn, Tags=[{"Key": k, "Value": v} for k, v in sorted(tags.items())]
        )


def set_master_password(account: AccountSession, identifier: str, password: SecretStr) -> None:
    """Give the instance's master user ``password``, once the instance is available, and wait until it is again."""
    rds = account.client("rds")
    what = f"instance {identifier}"
    with aws_call(f"RDS master password of instance {identifier}"):
        _wait(account, "db_instance_available", what, PASSWORD_WAITER, DBInstanceIdentifier=identifier)
        rds.modify_db_instance(
            DBInstanceIdentifier=identifier, MasterUserPassword=password.get_secret_value(), ApplyImmediately=True
        )
        _wait(account, "db_instance_available", what, PASSWORD_WAITER, DBInstanceIdentifier=identifier)


def delete_instance(account: AccountSession, identifier: str) -> None:
    """Delete a temporary instance without a final snapshot, and wait until it is gone."""
    with aws_call(f"RDS deletion of instance {identifier}"):
        try:
            account.client("rds").delete_db_instance(
                DBInstanceIdentifier=identifier, SkipFinalSnapshot=True, DeleteAutomatedBackups=True
            )
        except ClientError as error:
            if code(error) == "DBInstanceNotFound":
                return
            raise
        _wait(account, "db_instance_deleted", f"instance {identifier}", DBInstanceIdentifier=identifier)


def instance_exists(account: AccountSession, identifier: str) -> bool:
    with aws_call(f"RDS lookup of instance {identifier}"):
        try:
            account.client("rds").describe_db_instances(DBInstanceIdentifier=identifier)
        except ClientError as error:
            if code(error) == "DBInstanceNotFound":
                return False
            raise
    return True


def create_snapshot(account: AccountSession, instance: str, identifier: str, tags: dict[str, str]) -> DbSnapshot:
    """Snapshot ``instance`` as ``identifier`` and wait until the snapshot is available."""
    with aws_call(f"RDS snapshot {identifier} of {instance}"):
        account.client("rds").create_db_snapshot(
            DBSnapshotIdentifier=identifier,
            DBInstanceIdentifier=instance,
            Tags=[{"Key": k, "Value": v} for k, v in sorted(tags.items())],
        )
        return _available_snapshot(account, identifier)


def _available_snapshot(account: AccountSession, identifier: str) -> DbSnapshot:
    """Snapshot ``identifier`` once it is available (waited for)."""
    _wait(account, "db_snapshot_available", f"snapshot {identifier}", DBSnapshotIdentifier=identifier)
    found = get_snapshot(account, identifier)
    assert found is not None
    return found


def get_snapshot(account: AccountSession, identifier: str) -> DbSnapshot | None:
    with aws_call(f"RDS lookup of snapshot {identifier}"):
        try:
            found = account.client("rds").describe_db_snapshots(DBSnapshotIdentifier=identifier)["DBSnapshots"]
        except ClientError as error:
            if code(error) == "DBSnapshotNotFound":
                return None
            raise
    return _snapshot(found[0]) if found else None


def copy_snapshot(
    account: AccountSession, source_arn: str, identifier: str, key_arn: str, tags: dict[str, str]
) -> DbSnapshot:
    """The account's own copy, as ``identifier`` and encrypted with ``key_arn``, of the snapshot another account
    shares with it (``source_arn``): copied unless it is there already, then waited for until available."""
    if get_snapshot(account, identifier) is None:
        with aws_call(f"RDS copy of snapshot {source_arn} as {identifier}"):
            account.client("rds").copy_db_snapshot(
                SourceDBSnapshotIdentifier=source_arn,
                TargetDBSnapshotIdentifier=identifier,
                KmsKeyId=key_arn,
                Tags=[{"Key": k, "Value": v} for k, v in sorted(tags.items())],
            )
    return _available_snapshot(account, identifier)


def latest_snapshot(account: AccountSession, prefix: str, exclude: str = "") -> DbSnapshot | None:
    """The most recent available manual snapshot whose identifier starts with ``prefix``."""
    with aws_call(f"RDS listing of the manual snapshots of account {account.account_id}"):
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
    with aws_call(f"RDS sharing of snapshot {identifier}"):
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


def visible_snapshot_arns(account: AccountSession) -> set[str]:
    """The ARNs of the manual snapshots the account can restore: its own and those shared with it."""
    rds = account.client("rds")
    visible: set[str] = set()
    with aws_call(f"RDS listing of the snapshots account {account.account_id} sees"):
        for page in rds.get_paginator("describe_db_snapshots").paginate(SnapshotType="shared", IncludeShared=True):
            visible |= {s["DBSnapshotArn"] for s in page["DBSnapshots"]}
        for page in rds.get_paginator("describe_db_snapshots").paginate(SnapshotType="manual"):
            visible |= {s["DBSnapshotArn"] for s in page["DBSnapshots"]}
    return visible


def shared_with(account: AccountSession, identifier: str) -> list[str]:
    with aws_call(f"RDS lookup of the accounts snapshot {identifier} is shared with"):
        result = account.client("rds").describe_db_snapshot_attributes(DBSnapshotIdentifier=identifier)
    for attribute in result["DBSnapshotAttributesResult"]["DBSnapshotAttributes"]:
        if attribute["AttributeName"] == "restore":
            return sorted(attribute.get("AttributeValues", []))
    return []


def delete_snapshot(account: AccountSession, identifier: str) -> None:
    with aws_call(f"RDS deletion of snapshot {identifier}"):
        try:
            account.client("rds").delete_db_snapshot(DBSnapshotIdentifier=identifier)
        except ClientError as error:
            if code(error) != "DBSnapshotNotFound":
                raise
