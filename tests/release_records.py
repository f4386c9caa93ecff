"""Records for the tests of pure rules: a release and its audit entries, made in memory (no server)."""

from __future__ import annotations

from cloudops.images import BuiltImage
from cloudops.release import Release
from cloudops.snapshots import SnapshotRecord

APP = "sha256:" + "a" * 64
BROKER = "sha256:" + "b" * 64
MYSQL = "sha256:" + "c" * 64


def sample_release(version: str = "1.0") -> Release:
    """A release of the example application with three images and its Author and Live snapshots."""

    def image(name: str, digest: str) -> BuiltImage:
        return BuiltImage(name=name, registry="r", digest=digest, inputs="i", rebuilt=False)

    def snapshot(environment: str) -> SnapshotRecord:
        identifier = f"commerce-{environment}-{version.replace('.', '-')}"
        return SnapshotRecord(
            environment=environment,
            identifier=identifier,
            arn=f"arn:aws:rds:eu-west-1:111111111111:snapshot:{identifier}",
            shared_with=("222222222222",),
            created=False,
        )

    return Release(
        application="commerce",
        version=version,
        commit="c" * 40,
        ref="main",
        package_digest="sha256:" + "0" * 64,
        package_uri="s3://build/packages/commerce/0.tar.zst",
        images={"app": image("app", APP), "broker": image("broker", BROKER), "mysql": image("mysql", MYSQL)},
        snapshots={"author": snapshot("author"), "live": snapshot("live")},
        datasets={},
    )
