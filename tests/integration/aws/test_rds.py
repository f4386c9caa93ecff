"""The RDS adapter against moto server."""

from __future__ import annotations

import uuid

from cloudops.aws import rds
from cloudops.aws.session import AccountSession
from sandbox.sandbox import Sandbox


def test_sharing_a_snapshot_again_writes_nothing_and_lists_each_account_once(moto_sandbox: Sandbox) -> None:
    build = moto_sandbox.account("build")
    name = f"share-{uuid.uuid4().hex[:8]}"
    client = build.client("rds")
    client.create_db_instance(
        DBInstanceIdentifier=name,
        DBInstanceClass="db.t3.micro",
        Engine="mysql",
        MasterUsername="admin",
        MasterUserPassword="not-a-secret-1",
        AllocatedStorage=20,
    )
    try:
        rds.create_snapshot(build, name, f"{name}-snap", {})
        accounts = ["222222222222", "333333333333"]
        # moto allows 20 shared accounts and counts an account shared again: re-runs must not add it again.
        for _ in range(25):
            assert rds.share_snapshot(build, f"{name}-snap", accounts) == accounts
        everyone = [*accounts, "444444444444"]
        assert rds.share_snapshot(build, f"{name}-snap", everyone) == everyone
        # The snapshot is visible to its own account and to one it is shared with (the check before a deploy)
        arn = snapshot_arn(build, f"{name}-snap")
        assert arn in rds.visible_snapshot_arns(build)
        assert arn in rds.visible_snapshot_arns(moto_sandbox.account("qa"))
    finally:
        rds.delete_snapshot(build, f"{name}-snap")
        rds.delete_instance(build, name)


def snapshot_arn(account: AccountSession, identifier: str) -> str:
    found = rds.get_snapshot(account, identifier)
    assert found is not None
    return found.arn
