"""RDS instances as MariaDB containers on the sandbox's Docker engine (the Docker side; no moto, no boto3).

Each instance is one container of a small image the runtime builds once on the engine: the base image the
pipeline builds (``<registry>/base:in-<hash>``, already on the engine) plus Debian's ``mariadb-server``, by the
same ``RUN`` line as the example's MySQL image, so Docker's layer cache has it once that image was built. Its
data is a folder of the sandbox (``<sandbox>/rds/<account>/<instance>/data``), so a redeploy, which keeps the
instance, keeps its data. It joins its account's networks only, with the instance's endpoint hostname as
its alias there, so a task resolves ``EP_DB_HOSTNAME`` through Docker's DNS.

The runtime administers it as ``rdsadmin`` (RDS's own administrative user has that name too), over TCP from
this machine, with a password the runtime generates and keeps in the instance's folder (mode 0600).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
import secrets
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
from docker.errors import APIError, ImageNotFound, NotFound
from pydantic import SecretStr

from sandbox import docker_engine
from sandbox.ecs_runtime.networks import SANDBOX_LABEL, ensure_network
from sandbox.errors import SandboxError

RDS_LABEL_VALUE = "rds"
INSTANCE_LABEL = "cloudops.rds.instance"
ADMIN_USER = "rdsadmin"
PORT = 3306
BASE_TAG = re.compile(r"^.+/base:in-[0-9a-f]+$")
# The first RUN line is the example MySQL image's (examples/commerce/docker/mysql/Dockerfile), character for
# character: on the same base, Docker's layer cache then has the installed MariaDB already.
DOCKERFILE = """ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN apt-get update -q \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends mariadb-server \\
 && rm -rf /var/lib/apt/lists/* /var/lib/mysql/* \\
 && mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
COPY cloudops-rds /usr/local/bin/cloudops-rds
EXPOSE 3306
CMD ["/usr/local/bin/cloudops-rds"]
"""
# mariadbd runs as root in the container, so it reads the init file (mode 0600, the runtime's) and writes the
# data folder whatever this machine's users are.
ENTRYPOINT = """#!/bin/sh
set -eu
if [ ! -d /var/lib/mysql/mysql ]; then
  mariadb-install-db --user=root --datadir=/var/lib/mysql --skip-test-db \\
    --auth-root-authentication-method=socket >/dev/null
fi
exec mariadbd --user=root --datadir=/var/lib/mysql --port=3306 --bind-address=0.0.0.0 \\
  --socket=/run/mysqld/mysqld.sock --init-file=/etc/cloudops-rds/init.sql --skip-name-resolve \\
  --innodb-buffer-pool-size=32M --max-allowed-packet=64M --performance-schema=OFF
"""


# Named after what makes it, so a changed recipe is built anew on an engine that has the old image.
IMAGE = "cloudops-sandbox/rds-mariadb:" + hashlib.sha256((DOCKERFILE + ENTRYPOINT).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class InstanceFolder:
    """An instance's folder: its data, the init file that makes ``rdsadmin``, and what the runtime did to it."""

    path: Path

    @property
    def data(self) -> Path:
        return self.path / "data"

    @property
    def init_file(self) -> Path:
        return self.path / "init.sql"

    @property
    def restored_marker(self) -> Path:
        return self.path / "restored"

    def admin_password(self) -> SecretStr:
        """``rdsadmin``'s password, made at the instance's first start (mode 0600)."""
        secret = self.path / "rdsadmin.secret"
        if not secret.is_file():
            _write_private(secret, secrets.token_urlsafe(24))
        return SecretStr(secret.read_text().strip())

    def write_init_file(self) -> None:
        """The data folder, and the init file the server runs at each start: ``rdsadmin`` with its password."""
        self.data.mkdir(parents=True, exist_ok=True)
        quoted = self.admin_password().get_secret_value().replace("'", "''")
        _write_private(
            self.init_file,
            f"CREATE USER IF NOT EXISTS '{ADMIN_USER}'@'%' IDENTIFIED BY '{quoted}';\n"
            f"ALTER USER '{ADMIN_USER}'@'%' IDENTIFIED BY '{quoted}';\n"
            f"GRANT ALL PRIVILEGES ON *.* TO '{ADMIN_USER}'@'%' WITH GRANT OPTION;\n",
        )

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def instance_folder(data_dir: Path, account: str, identifier: str) -> InstanceFolder:
    return InstanceFolder(data_dir / account / re.sub(r"[^a-z0-9-]", "-", identifier.lower()))


def container_name(account: str, region: str, identifier: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_.-]", "-", f"cloudops-rds-{account}-{region}-{identifier.lower()}")


def base_image(client: docker.DockerClient) -> str | None:
    """The newest base image the pipeline built on this engine (``<registry>/base:in-<hash>``), or None."""
    found = [
        (str(image.attrs.get("Created", "")), tag)
        for image in client.images.list()
        for tag in image.tags
        if BASE_TAG.match(tag)
    ]
    return max(found)[1] if found else None


def ensure_image(client: docker.DockerClient) -> str | None:
    """The server image, built on the first use; None while the engine has no base image yet."""
    try:
        client.images.get(IMAGE)
        return IMAGE
    except ImageNotFound:
        pass
    base = base_image(client)
    if base is None:
        return None
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, text, mode in (("Dockerfile", DOCKERFILE, 0o644), ("cloudops-rds", ENTRYPOINT, 0o755)):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    # network_mode host: apt reaches the machine's Debian source, as the pipeline's image builds do
    stream = client.api.build(
        fileobj=context,
        custom_context=True,
        tag=IMAGE,
        buildargs={"BASE_IMAGE": base},
        network_mode="host",
        rm=True,
        decode=True,
    )
    for event in stream:
        if "error" in event:
            raise SandboxError(f"building the RDS server image {IMAGE} from {base} failed: {event['error']}")
    return IMAGE


def servers(client: docker.DockerClient) -> dict[str, Any]:
    """Every RDS server container on the engine, by instance key."""
    found = docker_engine.containers(client, labels=[f"{SANDBOX_LABEL}={RDS_LABEL_VALUE}"])
    return {str(c.labels[INSTANCE_LABEL]): c for c in found}


def ensure_server(
    client: docker.DockerClient,
    *,
    key: str,
    name: str,
    folder: InstanceFolder,
    networks: list[str],
    alias: str,
) -> Any:
    """The instance's container: created when missing, started when stopped, on every one of ``networks`` (the
    first is where it is created) with ``alias``."""
    folder.write_init_file()
    for network in networks:
        ensure_network(client, network, {})
    try:
        container = client.containers.get(name)
    except NotFound:
        container = _create(client, key, name, folder, networks[0], alias)
    attached = set((container.attrs.get("NetworkSettings") or {}).get("Networks") or {})
    for network in networks:
        if network not in attached:
            try:
                client.api.connect_container_to_network(container.id, network, aliases=[alias])
            except APIError as error:
                if error.status_code != 403 or "already exists" not in str(error.explanation):
                    raise
    if container.status != "running":
        container.start()
    container.reload()
    return container


def _create(client: docker.DockerClient, key: str, name: str, folder: InstanceFolder, network: str, alias: str) -> Any:
    api = client.api
    endpoint = api.create_endpoint_config(aliases=[alias])
    created = api.create_container(
        IMAGE,
        name=name,
        labels={SANDBOX_LABEL: RDS_LABEL_VALUE, INSTANCE_LABEL: key},
        networking_config=api.create_networking_config({network: endpoint}),
        host_config=api.create_host_config(
            network_mode=network,
            binds=[f"{folder.data}:/var/lib/mysql:rw", f"{folder.init_file}:/etc/cloudops-rds/init.sql:ro"],
            restart_policy={"Name": "no"},
        ),
    )
    return client.containers.get(created["Id"])


def address(container: Any) -> str | None:
    """The container's address on one of its networks (all reach this machine), or None while it has none."""
    for network in ((container.attrs.get("NetworkSettings") or {}).get("Networks") or {}).values():
        if network.get("IPAddress"):
            return str(network["IPAddress"])
    return None


def remove_server(container: Any) -> None:
    with contextlib.suppress(NotFound):
        container.remove(force=True, v=True)


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text)
