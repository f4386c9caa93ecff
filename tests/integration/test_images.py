"""The release's images: built with the sandbox's Docker engine, pushed to the build registry, and run."""

from __future__ import annotations

import secrets
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import docker
import httpx
import pymysql
import pytest

from cloudops import images
from cloudops.errors import ImageBuildError
from cloudops.netutil import free_port, free_ports
from cloudops.registry import RegistryClient, TagConflictError
from sandbox.docker_engine import client as docker_client
from sandbox.sandbox import Sandbox
from tests.app_source import ReleaseSource, git

pytestmark = pytest.mark.slow


@contextmanager
def running(engine: docker.DockerClient, image: str, env: dict[str, str]) -> Iterator[Any]:
    container = engine.containers.run(image, detach=True, network_mode="host", environment=env)
    try:
        yield container
    finally:
        container.remove(force=True)


def wait_for(check: Any, container: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return check()
        except (httpx.HTTPError, pymysql.Error):
            container.reload()
            assert container.status == "running", container.logs().decode()
            time.sleep(0.3)
    raise AssertionError(f"no answer within {timeout} s: {container.logs().decode()}")


def registry(sandbox: Sandbox) -> RegistryClient:
    build = sandbox.state.registries["build"]

    return RegistryClient(build.login())


def test_the_mysql_image_starts_with_the_author_data_and_the_app_serves_it(
    sandbox: Sandbox, built_images: dict[str, images.BuiltImage]
) -> None:
    engine = docker_client(sandbox.state)
    mysql = built_images["mysql"]
    app = built_images["app"]
    engine.images.pull(f"{mysql.registry}/mysql", tag=mysql.tags[0], auth_config=_auth(sandbox))
    db_port, app_port = free_ports(2)
    password = secrets.token_urlsafe(16)
    db_env = {"MYSQL_PORT": str(db_port), "MYSQL_BIND": "127.0.0.1", "MYSQL_PASSWORD": password}
    with running(engine, mysql.reference, db_env) as db:

        def author_rows() -> list[Any]:
            connection = pymysql.connect(
                host="127.0.0.1",
                port=db_port,
                user="cloudops",
                password=password,
                database="commerce_author",
                connect_timeout=2,
            )
            with connection, connection.cursor() as cursor:
                cursor.execute("SELECT value FROM setting WHERE name = 'environment'")
                rows = list(cursor.fetchall())
                cursor.execute("SELECT sku FROM product ORDER BY sku")
                return rows + list(cursor.fetchall())

        assert wait_for(author_rows, db) == [("author",), ("DRAFT-1",), ("MUG-1",), ("TSHIRT-1",)]
        app_env = {
            "APP_HOST": "127.0.0.1",
            "APP_PORT": str(app_port),
            "EP_DB_HOSTNAME": "127.0.0.1",
            "EP_DB_PORT": str(db_port),
            "EP_DB_NAME": "commerce_author",
            "EP_DB_USER": "cloudops",
            "EP_DB_PASSWORD": password,
        }
        with running(engine, app.reference, app_env) as service:
            health = wait_for(
                lambda: httpx.get(f"http://127.0.0.1:{app_port}/health", timeout=2).raise_for_status(), service
            )
            assert health.json()["status"] == "ok"
            assert health.json()["commit"] == app.tags[1]
            products = httpx.get(f"http://127.0.0.1:{app_port}/products", timeout=5).json()["products"]
            assert [p["sku"] for p in products] == ["DRAFT-1", "MUG-1", "TSHIRT-1"]
    # The baked image carries no password: not in its config, not in its files
    config = engine.images.get(mysql.reference).attrs["Config"]
    assert not any(e.startswith("MYSQL_PASSWORD=") for e in config["Env"])
    assert (
        "/run/mysqld/init.sql"
        not in engine.containers.run(mysql.reference, ["ls", "/run/mysqld"], remove=True, network_mode="none").decode()
    )


def test_the_broker_image_accepts_an_mqtt_connection(
    sandbox: Sandbox, built_images: dict[str, images.BuiltImage]
) -> None:
    engine = docker_client(sandbox.state)
    port = free_port()
    broker = built_images["broker"]
    env = {"BROKER_PORT": str(port), "BROKER_BIND": "127.0.0.1"}
    with running(engine, broker.reference, env) as container:

        def connack() -> bytes:
            # MQTT 3.1.1 CONNECT, clean session, client id "t"; a broker answers CONNACK 20 02 00 00
            packet = bytes([0x10, 13, 0, 4]) + b"MQTT" + bytes([4, 2, 0, 60, 0, 1]) + b"t"
            with socket.create_connection(("127.0.0.1", port), timeout=2) as connection:
                connection.sendall(packet)
                return connection.recv(4)

        def answered() -> bytes:
            try:
                return connack()
            except OSError as error:
                raise httpx.ConnectError(str(error)) from None

        assert wait_for(answered, container) == bytes([0x20, 2, 0, 0])


def test_images_are_pushed_by_digest_and_tagged_with_version_and_commit(
    sandbox: Sandbox, built_images: dict[str, images.BuiltImage], release_source: ReleaseSource
) -> None:
    assert set(built_images) == {"base", "app", "broker", "mysql"}
    with registry(sandbox) as client:
        for name in ("app", "broker", "mysql"):
            image = built_images[name]
            version, commit = image.tags
            assert commit == git(release_source.repo, "rev-parse", "main")
            assert version.endswith(f"-g{commit[:8]}")
            assert client.manifest_digest(name, version) == image.digest
            assert client.manifest_digest(name, commit) == image.digest
            assert client.manifest_digest(name, images.input_tag(image.inputs)) == image.digest


def test_a_second_run_rebuilds_nothing(release_env: ReleaseSource, built_images: dict[str, images.BuiltImage]) -> None:
    from flows.build_images import build_images

    again = build_images(ref="main")
    assert {n: i.digest for n, i in again.items()} == {n: i.digest for n, i in built_images.items()}
    assert not any(image.rebuilt for image in again.values())


def test_a_tag_never_moves_to_another_digest(sandbox: Sandbox, built_images: dict[str, images.BuiltImage]) -> None:
    app, broker = built_images["app"], built_images["broker"]
    with registry(sandbox) as client:
        with pytest.raises(TagConflictError, match=f"tag '{app.tags[0]}' of .*/app already names {app.digest}"):
            client.tag("app", broker.digest, app.tags[0])
        assert client.manifest_digest("app", app.tags[0]) == app.digest
        assert client.tag("app", app.digest, app.tags[0]) is False  # the same digest again is fine


def test_a_bad_dockerfile_fails_at_once_with_dockers_message(sandbox: Sandbox, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY missing-file.txt /x\n")
    lines: list[str] = []
    with pytest.raises(ImageBuildError, match="docker build of bad:1 failed: COPY failed"):
        images.build(docker_client(sandbox.state), tmp_path, "Dockerfile", "bad:1", {}, {}, lines.append)
    assert any("COPY missing-file.txt" in line for line in lines)


def test_copied_sources_reads_copy_and_add() -> None:
    dockerfile = (
        'FROM x\nCOPY app/ /opt/\nADD --chown=1:1 a.txt b.txt /d/\nCOPY ["docker/c.conf", "/e"]\n'
        "COPY --from=build /out /o\n"
    )
    assert images.copied_sources(dockerfile) == ["app", "a.txt", "b.txt", "docker/c.conf"]
    files = {"app/s.py": "1", "apps/x": "2", "a.txt": "3", "docker/c.conf": "4", "docker/d.conf": "5"}
    assert images.files_copied(dockerfile, files) == ["a.txt=3", "app/s.py=1", "docker/c.conf=4"]


def _auth(sandbox: Sandbox) -> dict[str, str]:
    build = sandbox.state.registries["build"]
    return {"username": "AWS", "password": build.password.get_secret_value()}
