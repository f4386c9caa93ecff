"""build-release end to end on the sandbox, and the populate-data flow."""

from __future__ import annotations

import uuid

import pymysql
import pytest

from cloudops.images import BuiltImage
from cloudops.release import load_release
from sandbox.blocks import SANDBOX_MYSQL_BLOCK
from sandbox.sandbox import Sandbox
from sandbox.state import MYSQL_USER
from tests.app_source import ReleaseSource, git

pytestmark = pytest.mark.slow


def test_build_release_records_the_release_and_a_rerun_rebuilds_nothing(
    sandbox: Sandbox, release_env: ReleaseSource, built_images: dict[str, BuiltImage]
) -> None:
    from flows.build_release import build_release

    release = build_release(ref="main")
    assert release.commit == git(release_env.repo, "rev-parse", "main")
    assert {n: i.digest for n, i in release.images.items()} == {n: i.digest for n, i in built_images.items()}
    assert set(release.snapshots) == {"author", "live"}
    assert all(s.shared_with for s in release.snapshots.values())
    assert release.package_uri.startswith("s3://cloudops-build-111111111111/packages/commerce/")

    build = sandbox.account("build")
    bucket = release_env.settings.stage("build").bucket
    recorded = load_release(build, bucket, "commerce", release.version)  # as the first build of the commit wrote it
    assert {n: i.digest for n, i in recorded.images.items()} == {n: i.digest for n, i in release.images.items()}
    assert (recorded.commit, recorded.package_digest) == (release.commit, release.package_digest)

    again = build_release(ref="main")
    assert not any(image.rebuilt for image in again.images.values())
    assert not any(s.created for s in again.snapshots.values())
    assert {n: i.digest for n, i in again.images.items()} == {n: i.digest for n, i in release.images.items()}
    assert {e: (s.identifier, s.arn) for e, s in again.snapshots.items()} == {
        e: (s.identifier, s.arn) for e, s in release.snapshots.items()
    }
    assert (again.package_digest, again.version) == (release.package_digest, release.version)


def test_populate_data_creates_then_updates_a_database(sandbox: Sandbox, release_env: ReleaseSource) -> None:
    from flows.populate_data import populate_data

    database = f"dev_{uuid.uuid4().hex[:8]}"
    first = populate_data(environment="live", server=SANDBOX_MYSQL_BLOCK, database=database, ref="main")
    assert first.applied == ["V0001__common__schema", "V0002__common__reference_data", "V0004__live__live_settings"]
    again = populate_data(environment="live", server=SANDBOX_MYSQL_BLOCK, database=database, ref="main")
    assert again.applied == [] and len(again.already) == 3
    connection = pymysql.connect(
        host="127.0.0.1",
        port=sandbox.state.mariadb_port,
        user=MYSQL_USER,
        password=sandbox.state.mariadb_password.get_secret_value(),
        database=database,
    )
    with connection, connection.cursor() as cursor:
        cursor.execute("SELECT value FROM setting WHERE name = 'environment'")
        assert cursor.fetchall() == (("live",),)
