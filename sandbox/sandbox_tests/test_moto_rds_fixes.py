"""The sandbox's moto tells its RDS runtime which snapshot an instance restores (sandbox/sandbox/moto_rds_fixes.py).

Each assertion fails against moto 5.2.5 without its fix: a stack's instance forgets its ``DBSnapshotIdentifier``
and has no master user; a restore through the API keeps no trace of its snapshot; an instance of an account the
runtime runs says ``available`` before anything answers. moto runs in this process here (its models are what the
fixes change); the fixes are applied for the test only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.rds.models import rds_backends

from sandbox import moto_rds_fixes

REGION = "us-east-1"
BUILD = DEFAULT_ACCOUNT_ID
STAGE = "222222222222"
TEMPLATE = {
    "Parameters": {"Snapshot": {"Type": "String"}},
    "Resources": {
        "Database": {
            "Type": "AWS::RDS::DBInstance",
            "DeletionPolicy": "Snapshot",
            "Properties": {
                "DBSnapshotIdentifier": {"Ref": "Snapshot"},
                "DBInstanceClass": "db.t3.medium",
                "Engine": "mysql",
            },
        }
    },
}


@pytest.fixture
def fixed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """moto in process with the RDS fixes; the runtime said to run the stage account's instances. The changes
    the fixes announce are counted."""
    changes: list[str] = []
    for owner, name, patch in moto_rds_fixes.PATCHES:
        monkeypatch.setattr(owner, name, patch)
    monkeypatch.setattr(moto_rds_fixes, "runs_instances", lambda account: account == STAGE)
    monkeypatch.setattr(moto_rds_fixes, "_listeners", [lambda: changes.append("changed")])
    with mock_aws():
        yield changes


def client(service: str, account: str) -> Any:
    if account == BUILD:
        return boto3.client(service, region_name=REGION)  # type: ignore[call-overload]  # any service
    role = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/test", RoleSessionName="test"
    )["Credentials"]
    return boto3.client(  # type: ignore[call-overload]  # any service
        service,
        region_name=REGION,
        aws_access_key_id=role["AccessKeyId"],
        aws_secret_access_key=role["SecretAccessKey"],
        aws_session_token=role["SessionToken"],
    )


def build_snapshot() -> str:
    """A snapshot of a build instance (master user ``cloudops``), shared with the stage account; its ARN."""
    rds = client("rds", BUILD)
    rds.create_db_instance(
        DBInstanceIdentifier="commerce-author-build",
        Engine="mysql",
        DBInstanceClass="db.t3.medium",
        AllocatedStorage=20,
        MasterUsername="cloudops",
        MasterUserPassword="temporary-password",
    )
    arn: str = rds.create_db_snapshot(
        DBInstanceIdentifier="commerce-author-build", DBSnapshotIdentifier="commerce-author-1-0-0"
    )["DBSnapshot"]["DBSnapshotArn"]
    rds.modify_db_snapshot_attribute(
        DBSnapshotIdentifier="commerce-author-1-0-0", AttributeName="restore", ValuesToAdd=[STAGE]
    )
    return arn


def test_a_stacks_instance_keeps_its_snapshot_and_the_snapshots_master_login(fixed: list[str]) -> None:
    arn = build_snapshot()

    # When a stage's stack restores the shared snapshot by its ARN
    client("cloudformation", STAGE).create_stack(
        StackName="commerce-qa-author",
        TemplateBody=json.dumps(TEMPLATE),
        Parameters=[{"ParameterKey": "Snapshot", "ParameterValue": arn}],
    )

    # Then the instance names the snapshot, has its source's master user and password, and is not available yet
    (instance,) = client("rds", STAGE).describe_db_instances()["DBInstances"]
    database: Any = rds_backends[STAGE][REGION].databases[instance["DBInstanceIdentifier"]]
    assert database.sandbox_snapshot == arn
    assert instance["MasterUsername"] == "cloudops"
    assert database._master_user_password == "temporary-password"
    assert instance["DBInstanceStatus"] == "creating"
    assert moto_rds_fixes.find_snapshot(STAGE, REGION, arn) is not None
    assert moto_rds_fixes.snapshot_identifier(arn) == "commerce-author-1-0-0"
    assert fixed  # the runtime was woken


def test_a_restore_through_the_api_keeps_its_snapshot_and_a_new_password_waits_for_the_runtime(
    fixed: list[str],
) -> None:
    build_snapshot()
    rds = client("rds", BUILD)

    # When the build account restores its own snapshot (its instances are not the runtime's: moto's as they are)
    rds.restore_db_instance_from_db_snapshot(
        DBInstanceIdentifier="commerce-author-next", DBSnapshotIdentifier="commerce-author-1-0-0"
    )
    restored: Any = rds_backends[BUILD][REGION].databases["commerce-author-next"]
    assert restored.sandbox_snapshot == "commerce-author-1-0-0"
    assert restored.status == "available"

    # When a stage instance the runtime made available gets a new master password, it resets until the runtime
    # has applied it; and its deletion is remembered for the runtime
    stage = client("rds", STAGE)
    stage.create_db_instance(
        DBInstanceIdentifier="empty",
        Engine="mysql",
        DBInstanceClass="db.t3.medium",
        AllocatedStorage=20,
        MasterUsername="cloudops",
        MasterUserPassword="first-password",
    )
    database: Any = rds_backends[STAGE][REGION].databases["empty"]
    assert (database.status, database.sandbox_snapshot) == ("creating", None)
    database.status = "available"
    stage.modify_db_instance(DBInstanceIdentifier="empty", MasterUserPassword="second-password", ApplyImmediately=True)
    assert database.status == "resetting-master-credentials"
    assert database._master_user_password == "second-password"
    moto_rds_fixes.take_deleted()
    stage.delete_db_instance(DBInstanceIdentifier="empty", SkipFinalSnapshot=True)
    assert moto_rds_fixes.take_deleted() == {(STAGE, REGION, "empty")}


def test_a_stage_copies_a_shared_snapshot_under_its_own_key_and_restores_the_copy(fixed: list[str]) -> None:
    arn = build_snapshot()
    key = client("kms", STAGE).create_key(Description="the stage's account key")["KeyMetadata"]["Arn"]
    rds = client("rds", STAGE)

    # When the stage copies the snapshot the build shares with it, under its own key
    copied = rds.copy_db_snapshot(
        SourceDBSnapshotIdentifier=arn, TargetDBSnapshotIdentifier="commerce-author-1-0-0", KmsKeyId=key
    )["DBSnapshot"]

    # Then the copy is the stage's, encrypted with that key, of the source's instance and master user
    assert copied["DBSnapshotArn"] == f"arn:aws:rds:{REGION}:{STAGE}:snapshot:commerce-author-1-0-0"
    assert (copied["Encrypted"], copied["KmsKeyId"]) == (True, key)
    assert copied["MasterUsername"] == "cloudops"

    # And a stack restoring the copy by its identifier gets the source's master login (the runtime: its data)
    client("cloudformation", STAGE).create_stack(
        StackName="commerce-qa-author",
        TemplateBody=json.dumps(TEMPLATE),
        Parameters=[{"ParameterKey": "Snapshot", "ParameterValue": "commerce-author-1-0-0"}],
    )
    (instance,) = rds.describe_db_instances()["DBInstances"]
    assert instance["MasterUsername"] == "cloudops"

    # A snapshot the build does not share with an account cannot be copied into it
    client("rds", BUILD).modify_db_snapshot_attribute(
        DBSnapshotIdentifier="commerce-author-1-0-0", AttributeName="restore", ValuesToRemove=[STAGE]
    )
    with pytest.raises(rds.exceptions.DBSnapshotNotFoundFault):
        rds.copy_db_snapshot(SourceDBSnapshotIdentifier=arn, TargetDBSnapshotIdentifier="again", KmsKeyId=key)
