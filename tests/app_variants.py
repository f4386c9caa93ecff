"""Another build of the example app for the runtime tests: the session's app image with another version in its
BUILD-INFO.json, committed on the sandbox's engine and pushed to the build registry as the pipeline pushes."""

from __future__ import annotations

import io
import json
import tarfile

import docker

from cloudops.images import BuiltImage, push
from cloudops.release import Release
from sandbox.sandbox import Sandbox

BUILD_INFO = "/opt/commerce/BUILD-INFO.json"


def app_variant(
    sandbox: Sandbox, built: Release, version: str, command: list[str] | None = None, commit: str | None = None
) -> BuiltImage:
    """The built app image, answering ``/health`` with ``version``: a new image, by digest, in the build registry.
    With ``command``, the image runs that instead of the app (``["false"]``: a task that fails at once); with
    ``commit``, its ``/health`` names that commit (an image of another build than its release's)."""
    engine = docker.DockerClient(base_url=sandbox.state.docker_host)
    original = built.images["app"]
    registry = sandbox.state.registries["build"]
    login = registry.login()
    try:
        original_command = engine.images.get(original.reference).attrs["Config"]["Cmd"]
    except docker.errors.ImageNotFound:
        auth = {"username": login.username, "password": login.password.get_secret_value()}
        original_command = engine.images.pull(original.reference, auth_config=auth).attrs["Config"]["Cmd"]
    command_run = command or original_command
    info = {**build_info(engine, original.reference), "version": version}
    text = json.dumps(info | ({"commit": commit} if commit else {})).encode()
    container = engine.containers.create(original.reference, command=["true"])
    try:
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w") as tar:
            entry = tarfile.TarInfo("BUILD-INFO.json")
            entry.size = len(text)
            tar.addfile(entry, io.BytesIO(text))
        container.put_archive("/opt/commerce", archive.getvalue())
        local = f"{registry.address}/app:{version}"
        container.commit(repository=local.rpartition(":")[0], tag=version, changes=[f"CMD {json.dumps(command_run)}"])
    finally:
        container.remove(force=True)
    digest = push(engine, local, login, lambda _line: None)
    return BuiltImage(name="app", registry=registry.address, digest=digest, inputs=version, rebuilt=True)


def build_info(engine: docker.DockerClient, reference: str) -> dict[str, object]:
    """The BUILD-INFO.json an app image carries."""
    output = engine.containers.run(reference, command=["cat", BUILD_INFO], remove=True)
    found: dict[str, object] = json.loads(output)
    return found
