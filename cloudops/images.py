"""Building the release's images with the Docker engine (through the ``docker`` SDK) and pushing them.

Only the build account builds images. Each image is identified by the digest its registry gives it;
``in-<hash>`` tags record which inputs (Dockerfile, the package files it copies, the base image, the
data sets) made it, so an unchanged input is found in the registry and not rebuilt.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import secrets
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import docker
import pymysql
from docker.errors import APIError, BuildError, DockerException, ImageNotFound
from pydantic import BaseModel, ConfigDict, SecretStr

from cloudops import base_image, datapop, safe_tar
from cloudops.errors import ImageBuildError, TransientError
from cloudops.netutil import free_port
from cloudops.registry import RegistryClient, RegistryLogin

Log = Callable[[str], None]
INPUT_TAG_PREFIX = "in-"
LABEL_INPUTS = "org.cloudops.inputs"
BAKE_USER = "cloudops"
MYSQL_DATADIR = "/var/lib/mysql"
TRANSIENT_PUSH = re.compile(r"\b5\d\d\b|connection (reset|refused)|timeout|EOF|broken pipe", re.IGNORECASE)


class BuiltImage(BaseModel):
    """An image of a release, by digest, in the build account's registry."""

    model_config = ConfigDict(frozen=True)

    name: str
    registry: str
    digest: str
    inputs: str
    tags: tuple[str, ...] = ()
    rebuilt: bool

    @property
    def reference(self) -> str:
        return f"{self.registry}/{self.name}@{self.digest}"


def input_tag(inputs: str) -> str:
    return f"{INPUT_TAG_PREFIX}{inputs[:40]}"


def copied_sources(dockerfile: str) -> list[str]:
    """The context paths a Dockerfile's COPY and ADD instructions read (JSON or shell form)."""
    sources: list[str] = []
    for line in re.sub(r"\\\n", " ", dockerfile).splitlines():
        match = re.match(r"^\s*(COPY|ADD)\s+(.*)$", line, re.IGNORECASE)
        if not match:
            continue
        rest = match.group(2).strip()
        if any(p.startswith("--from") for p in rest.split()):
            continue  # a file of another build stage, not of the context
        parts = json.loads(rest) if rest.startswith("[") else [p for p in rest.split() if not p.startswith("--")]
        sources += [p.rstrip("/") for p in parts[:-1]]
    return sources


def image_inputs(
    name: str, dockerfile_path: str, package_files: dict[str, str], base_digest: str, extra: Iterable[str] = ()
) -> str:
    """The hash of what makes an image: its Dockerfile, the files it copies, the base digest, extras."""
    dockerfile = package_files.get(dockerfile_path)
    if dockerfile is None:
        raise ImageBuildError(f"the package has no {dockerfile_path} for image {name!r}; fix application.dockerfiles")
    return hashlib.sha256(
        json.dumps([name, dockerfile_path, dockerfile, base_digest, sorted(extra)]).encode()
    ).hexdigest()


def files_copied(dockerfile_text: str, package_files: dict[str, str]) -> list[str]:
    """``path=sha256`` of every package file under the Dockerfile's COPY/ADD sources."""
    sources = copied_sources(dockerfile_text)
    picked = []
    for path, checksum in sorted(package_files.items()):
        if any(s in (".", "") or path == s or path.startswith(s + "/") for s in sources):
            picked.append(f"{path}={checksum}")
    return picked


def find_built(registry: RegistryClient, name: str, inputs: str) -> str | None:
    """The digest of an image built before from the same inputs, if the registry has it."""
    return registry.manifest_digest(name, input_tag(inputs))


def ensure_base(engine: docker.DockerClient, registry: RegistryClient, log: Log) -> BuiltImage:
    """The base image: found in the build registry by its inputs (pulled when the engine lacks it),
    or made with debootstrap, imported and pushed."""
    mirror = base_image.host_mirror()
    settings = base_image.apt_settings()
    inputs = base_image.base_inputs(mirror, settings)
    tag = input_tag(inputs)
    local = f"{registry.host}/base:{tag}"
    digest = registry.manifest_digest("base", tag)
    auth = _auth(registry.login)
    if digest is not None:
        try:
            engine.images.get(local)
        except ImageNotFound:
            log(f"pulling base image {local} from the build registry")
            engine.images.pull(f"{registry.host}/base", tag=tag, auth_config=auth)
        log(f"base image {digest} exists for these inputs; not rebuilt")
        return BuiltImage(name="base", registry=registry.host, digest=digest, inputs=inputs, tags=(tag,), rebuilt=False)
    with base_image.scratch_dir() as scratch:
        archive = base_image.make_rootfs_tar(Path(scratch), mirror, settings, log)
        log(f"importing the root file system as {local}")
        try:
            engine.api.import_image(
                src=str(archive), repository=f"{registry.host}/base", tag=tag, changes=base_image.IMAGE_CHANGES
            )
        except APIError as error:
            raise ImageBuildError(f"docker import of the base image failed: {error.explanation}") from None
    digest = push(engine, local, registry.login, log)
    return BuiltImage(name="base", registry=registry.host, digest=digest, inputs=inputs, tags=(tag,), rebuilt=True)


def build(
    engine: docker.DockerClient,
    context: Path,
    dockerfile: str,
    tag: str,
    build_args: dict[str, str],
    labels: dict[str, str],
    log: Log,
) -> str:
    """``docker build`` on the host network (for apt-get), logs streamed line by line; the image id."""
    image_id = None
    try:
        stream = engine.api.build(
            path=str(context),
            dockerfile=dockerfile,
            tag=tag,
            buildargs=build_args,
            labels=labels,
            network_mode="host",
            rm=True,
            forcerm=True,
            decode=True,
        )
        last = ""
        for event in stream:
            if "stream" in event:
                for line in event["stream"].splitlines():
                    if line.strip():
                        last = line
                        log(line)
            if "error" in event:
                raise ImageBuildError(f"docker build of {tag} failed: {event['error'].strip()} (after: {last})")
            if "aux" in event and "ID" in event["aux"]:
                image_id = event["aux"]["ID"]
    except (APIError, BuildError) as error:
        raise ImageBuildError(f"docker build of {tag} failed: {error}") from None
    if image_id is None:
        image_id = engine.images.get(tag).id
    return str(image_id)


def push(engine: docker.DockerClient, local_tag: str, login: RegistryLogin, log: Log) -> str:
    """Push ``local_tag`` (which names its registry) with the login; the digest the registry gave it."""
    repository, _, tag = local_tag.rpartition(":")
    digest = None
    try:
        for event in engine.images.push(repository, tag=tag, auth_config=_auth(login), stream=True, decode=True):
            if "error" in event:
                message = str(event["error"])
                if TRANSIENT_PUSH.search(message):
                    raise TransientError(f"push of {local_tag} failed, worth a retry: {message}")
                raise ImageBuildError(
                    f"push of {local_tag} failed: {message}; check the build account's registry login"
                )
            if "aux" in event and "Digest" in event["aux"]:
                digest = event["aux"]["Digest"]
            elif event.get("status") and event.get("id") is None:
                log(event["status"])
    except APIError as error:
        if error.is_server_error():
            raise TransientError(f"push of {local_tag} failed, worth a retry: {error.explanation}") from None
        raise ImageBuildError(f"push of {local_tag} failed: {error.explanation}") from None
    if digest is None:
        raise ImageBuildError(f"the registry gave no digest for {local_tag}")
    return str(digest)


def publish(
    engine: docker.DockerClient,
    registry: RegistryClient,
    image_id: str,
    name: str,
    inputs: str,
    log: Log,
) -> str:
    """Push an image under its ``in-<inputs>`` tag; its digest."""
    local = f"{registry.host}/{name}:{input_tag(inputs)}"
    engine.images.get(image_id).tag(local)
    return push(engine, local, registry.login, log)


def apply_tags(registry: RegistryClient, name: str, digest: str, tags: Iterable[str]) -> tuple[str, ...]:
    """Point each release tag at ``digest`` in the registry (an existing, equal tag is fine)."""
    done = []
    for tag in tags:
        registry.tag(name, digest, tag)
        done.append(tag)
    return tuple(done)


def bake_database(
    engine: docker.DockerClient,
    image_id: str,
    datasets: Path,
    environment: str,
    database: str,
    labels: dict[str, str],
    log: Log,
    timeout: float = 120.0,
) -> str:
    """Start the MySQL image once, populate it, stop it, and bake its data folder into a new image.

    The throwaway container runs on the host network on a free 127.0.0.1 port with a one-time
    password. Its data folder is copied out and added to the original image in one layer, so the
    new image's configuration is the original's: no password, port or address of the bake in it.
    """
    port = free_port()
    password = SecretStr(secrets.token_urlsafe(24))
    container = engine.containers.run(
        image_id,
        detach=True,
        network_mode="host",
        environment={"MYSQL_PORT": str(port), "MYSQL_BIND": "127.0.0.1", "MYSQL_PASSWORD": password.get_secret_value()},
    )
    try:
        target = datapop.MySqlTarget(host="127.0.0.1", port=port, user=BAKE_USER, password=password, database=database)
        _wait_for_mysql(container, target, timeout)
        report = datapop.populate(target, datasets, environment)
        log(f"populated {environment} data sets: {', '.join(report.applied)}")
        container.stop(timeout=60)
        with tempfile.TemporaryDirectory(prefix="cloudops-bake-") as scratch:
            context = Path(scratch)
            owner = _copy_out(container, MYSQL_DATADIR, context / "data")
            (context / "Dockerfile").write_text(f"FROM {image_id}\nCOPY --chown={owner} data/ {MYSQL_DATADIR}/\n")
            return build(
                engine, context, "Dockerfile", f"cloudops-bake/{database}:{secrets.token_hex(4)}", {}, labels, log
            )
    finally:
        with contextlib.suppress(DockerException):
            container.remove(force=True)


def _copy_out(container: Any, path: str, destination: Path) -> str:
    """Copy folder ``path`` of a (stopped) container to ``destination``; its owner as ``uid:gid``."""
    stream, _ = container.get_archive(path)
    with tempfile.TemporaryFile() as archive:
        for chunk in stream:
            archive.write(chunk)
        archive.seek(0)
        with tarfile.open(fileobj=archive) as tar:
            top = tar.next()
            if top is None or not top.isdir():
                raise ImageBuildError(f"{path} is not a folder in the MySQL image; set its data folder to {path}")
            owner = f"{top.uid}:{top.gid}"
            prefix = top.name.rstrip("/") + "/"
            members = []
            for member in tar.getmembers():
                if member.name.startswith(prefix):
                    member.name = member.name[len(prefix) :]
                    members.append(member)
            destination.mkdir(parents=True)
            safe_tar.extract_all(tar, destination, members)
    return owner


def _wait_for_mysql(container: Any, target: datapop.MySqlTarget, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        container.reload()
        if container.status in ("exited", "dead"):
            raise ImageBuildError(
                "the MySQL image exited while starting; its log ends:\n"
                + container.logs(tail=20).decode(errors="replace")
            )
        try:
            pymysql.connect(
                host=target.host,
                port=target.port,
                user=target.user,
                password=target.password.get_secret_value(),
                connect_timeout=2,
            ).close()
            return
        except pymysql.Error:
            time.sleep(0.3)
    raise ImageBuildError(f"the MySQL image did not accept connections within {timeout:.0f} s")


def _auth(login: RegistryLogin) -> dict[str, str]:
    return {"username": login.username, "password": login.password.get_secret_value(), "serveraddress": login.host}
