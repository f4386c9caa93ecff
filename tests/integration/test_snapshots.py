"""The snapshot flow: Author and Live snapshots of a release, in moto's RDS, data in the sandbox's MariaDB."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pymysql
import pytest

from cloudops.aws import rds
from cloudops.bootstrap import account_resources
from cloudops.settings import RDS_DATABASES_ENV, Settings, load_settings
from cloudops.snapshots import instance_name, snapshot_name
from sandbox.blocks import SANDBOX_RDS_DATA
from sandbox.rds_databases import snapshot_database
from sandbox.sandbox import Sandbox
from sandbox.state import MYSQL_USER
from tests.app_source import git


def snapshot_rows(sandbox: Sandbox, snapshot: str, sql: str) -> list[tuple[object, ...]]:
    connection = pymysql.connect(
        host="127.0.0.1",
        port=sandbox.state.mariadb_port,
        user=MYSQL_USER,
        password=sandbox.state.mariadb_password.get_secret_value(),
        database=snapshot_database(snapshot),
    )
    with connection, connection.cursor() as cursor:
        cursor.execute(sql)
        return list(cursor.fetchall())


def new_commit(repo: Path, message: str) -> None:
    (repo / "RELEASE-NOTES.md").write_text(f"{message} {uuid.uuid4()}\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)


@pytest.fixture
def snapshot_env(
    sandbox: Sandbox, stage_blocks: dict[str, str], app_config: Settings, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """The application under a name of its own: a release's snapshot starts from the newest snapshot of its
    application in the build account, so one of these tests' snapshots of `commerce` (its live prices changed)
    became the base of the session's release whenever that was built after it (a product read back at 1499)."""
    monkeypatch.setenv("DOCKER_HOST", sandbox.state.docker_host)
    config = Path(os.environ["CLOUDOPS_CONFIG_FILE"])
    text = config.read_text()
    assert 'name = "commerce"' in text
    config.write_text(text.replace('name = "commerce"', f'name = "snap-{uuid.uuid4().hex[:6]}"', 1))
    return load_settings(config)


def test_a_release_is_snapshotted_shared_and_its_instances_are_gone(
    sandbox: Sandbox, snapshot_env: Settings, app_repo: Path
) -> None:
    from flows.snapshot import snapshot

    new_commit(app_repo, "release one")
    records = snapshot(ref="main")
    build = sandbox.account("build")
    application = snapshot_env.require_application().name
    version = records["author"].identifier.removeprefix(f"{application}-author-")
    stage_accounts = sorted(snapshot_env.stage(s).account_id for s in ("qa", "staging", "prod"))
    for environment, record in records.items():
        assert record.created
        assert record.identifier == snapshot_name(application, environment, version)
        found = rds.get_snapshot(build, record.identifier)
        assert found is not None and found.status == "available" and found.arn == record.arn
        # encrypted with the build account's key, whose policy lets the stages copy it (the bootstrap's)
        assert found.key == account_resources(build, "build").key_arn
        assert rds.shared_with(build, record.identifier) == stage_accounts == list(record.shared_with)
        assert not rds.instance_exists(build, instance_name(application, environment, version))
    # The snapshots hold each environment's own data and the shared data
    author, live = records["author"].identifier, records["live"].identifier
    assert ("DRAFT-1",) in snapshot_rows(sandbox, author, "SELECT sku FROM product")
    assert ("DRAFT-1",) not in snapshot_rows(sandbox, live, "SELECT sku FROM product")
    assert snapshot_rows(sandbox, live, "SELECT value FROM setting WHERE name = 'environment'") == [("live",)]
    # NOTE: moto keeps no data in snapshots (the sandbox's MariaDB holds it); each stage copies a shared snapshot
    # under its own key before it restores it (cloudops/deploy.py, own_snapshot; tests/integration/test_deploy.py).

    again = snapshot(ref="main")
    assert {e: r.created for e, r in again.items()} == {"author": False, "live": False}
    assert {e: r.identifier for e, r in again.items()} == {"author": author, "live": live}


def test_the_next_release_starts_from_the_previous_snapshot(
    sandbox: Sandbox, snapshot_env: Settings, app_repo: Path
) -> None:
    from flows.snapshot import snapshot

    new_commit(app_repo, "release two")
    first = snapshot(ref="main", share_with=["qa"])
    assert first["live"].shared_with == (snapshot_env.stage("qa").account_id,)

    (app_repo / "datasets" / "live" / "V0005__spring_prices.sql").write_text(
        "UPDATE product SET price_cents = 1499 WHERE sku = 'TSHIRT-1';\n"
    )
    new_commit(app_repo, "release three")
    second = snapshot(ref="main", share_with=["qa"])
    assert second["live"].from_snapshot is not None
    assert second["live"].applied == ("V0005__live__spring_prices",)
    assert second["author"].applied == ()
    live = second["live"].identifier
    assert snapshot_rows(sandbox, live, "SELECT price_cents FROM product WHERE sku = 'TSHIRT-1'") == [(1499,)]
    assert snapshot_rows(sandbox, live, "SELECT COUNT(*) FROM customer_order") == [(1,)]


@pytest.mark.reliability(
    "input", "snapshots shared with a stage that does not exist", "refused before any RDS instance starts"
)
def test_an_unknown_stage_to_share_with_is_refused_before_any_instance_starts(
    sandbox: Sandbox, snapshot_env: Settings
) -> None:
    from cloudops.errors import UnknownStageError
    from flows.snapshot import snapshot

    def instances() -> list[str]:
        found = sandbox.account("build").client("rds").describe_db_instances()["DBInstances"]
        return sorted(i["DBInstanceIdentifier"] for i in found)

    before = instances()
    with pytest.raises(UnknownStageError, match="unknown stage 'production'"):
        snapshot(ref="main", share_with=["production"])
    assert instances() == before


@pytest.mark.reliability(
    "input", "an rds_databases block that does not exist", "refused naming the block and where to look"
)
def test_a_missing_database_server_block_is_a_clear_error(
    sandbox: Sandbox, snapshot_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cloudops.errors import MissingBlockError
    from flows.snapshot import snapshot

    monkeypatch.setenv(RDS_DATABASES_ENV, SANDBOX_RDS_DATA + "b")
    with pytest.raises(MissingBlockError, match="no block 'cloudops-sandbox-rds-data/sandbox-mariadbb' to keep RDS"):
        snapshot(ref="main")
