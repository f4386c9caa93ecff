"""The stage registries (Debian's docker-registry): each refuses a push without its own password."""

from __future__ import annotations

import hashlib
import io
import tarfile
import uuid

import docker
import httpx
import pytest

from sandbox.docker_engine import client as docker_client
from sandbox.sandbox import Sandbox
from sandbox.state import REGISTRY_USER


def push_blob(address: str, repository: str, data: bytes, auth: tuple[str, str] | None) -> int:
    """Push one blob with the OCI distribution API; the status of the first refusal or of the commit."""
    with httpx.Client(base_url=f"http://{address}", auth=auth, timeout=10) as http:
        started = http.post(f"/v2/{repository}/blobs/uploads/")
        if started.status_code != 202:
            return started.status_code
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        location = started.headers["Location"]
        separator = "&" if "?" in location else "?"
        committed = http.put(
            f"{location}{separator}digest={digest}",
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        return committed.status_code


def test_a_push_needs_the_registrys_own_password(sandbox: Sandbox) -> None:
    qa = sandbox.state.registries["qa"]
    prod = sandbox.state.registries["prod"]
    repository = f"app-{uuid.uuid4().hex[:8]}"
    data = uuid.uuid4().bytes * 100

    assert push_blob(qa.address, repository, data, None) == 401
    assert push_blob(qa.address, repository, data, (REGISTRY_USER, "not-the-password")) == 401
    # prod's password does not open qa's registry
    assert push_blob(qa.address, repository, data, (REGISTRY_USER, prod.password.get_secret_value())) == 401
    assert push_blob(qa.address, repository, data, (REGISTRY_USER, qa.password.get_secret_value())) == 201

    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with httpx.Client(base_url=f"http://{qa.address}", timeout=10) as http:
        assert http.head(f"/v2/{repository}/blobs/{digest}").status_code == 401
        stored = http.get(f"/v2/{repository}/blobs/{digest}", auth=(REGISTRY_USER, qa.password.get_secret_value()))
    assert stored.status_code == 200 and stored.content == data


def scratch_context() -> io.BytesIO:
    """A build context with one file and a Dockerfile FROM scratch (no Docker Hub here)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, body in (
            ("Dockerfile", b"FROM scratch\nCOPY hello.txt /hello.txt\n"),
            ("hello.txt", uuid.uuid4().hex.encode()),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    buffer.seek(0)
    return buffer


def test_the_docker_engine_builds_and_pushes_only_with_the_password(sandbox: Sandbox) -> None:
    build = sandbox.state.registries["build"]
    engine = docker_client(sandbox.state)
    tag = f"{build.address}/probe-{uuid.uuid4().hex[:8]}:v1"
    image, _ = engine.images.build(fileobj=scratch_context(), custom_context=True, tag=tag, rm=True)
    assert image.id.startswith("sha256:")

    refused = engine.images.push(
        tag, auth_config={"username": REGISTRY_USER, "password": "wrong"}, stream=True, decode=True
    )
    errors = [event["error"] for event in refused if "error" in event]
    assert errors and ("unauthorized" in errors[0] or "authentication required" in errors[0])

    pushed = list(
        engine.images.push(
            tag,
            auth_config={"username": REGISTRY_USER, "password": build.password.get_secret_value()},
            stream=True,
            decode=True,
        )
    )
    assert not [event for event in pushed if "error" in event]
    digest = next(event["aux"]["Digest"] for event in pushed if "aux" in event)
    repository, reference = tag.split("/", 1)[1].split(":")
    with httpx.Client(
        base_url=f"http://{build.address}",
        timeout=10,
        auth=(REGISTRY_USER, build.password.get_secret_value()),
    ) as http:
        manifest = http.get(
            f"/v2/{repository}/manifests/{reference}",
            headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
        )
    assert manifest.headers["Docker-Content-Digest"] == digest
    engine.images.remove(tag, force=True)
    with pytest.raises(docker.errors.ImageNotFound):
        engine.images.get(tag)
