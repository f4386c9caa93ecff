"""Copying images by digest between the stage registries with our own OCI client."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from pydantic import SecretStr

from cloudops.image_copy import copy_image
from cloudops.netutil import free_port
from cloudops.registry import RegistryClient, RegistryError, TagConflictError
from sandbox import registries
from sandbox.processes import stop, wait_until
from sandbox.sandbox import Sandbox
from sandbox.state import RegistryState

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


@dataclass(frozen=True)
class Image:
    repository: str
    digest: str
    blobs: tuple[str, ...]


def client(sandbox: Sandbox, stage: str, password: SecretStr | None = None) -> RegistryClient:
    registry = sandbox.state.registries[stage]
    return RegistryClient(registry.login(password))


def push_image(registry: RegistryClient, repository: str, layers: int = 3, size: int = 256 * 1024) -> Image:
    """A real image of ``layers`` random layers and a config, pushed with the OCI API."""
    blobs = []
    descriptors = []
    for _ in range(layers):
        data = os.urandom(size)
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        registry.upload_blob(repository, digest, [data])
        blobs.append(digest)
        descriptors.append({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest, "size": size})
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": blobs}}
    ).encode()
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    registry.upload_blob(repository, config_digest, [config])
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": len(config),
            },
            "layers": descriptors,
        }
    ).encode()
    digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    assert registry.put_manifest(repository, digest, manifest, OCI_MANIFEST) == digest
    return Image(repository, digest, (config_digest, *blobs))


@pytest.fixture
def image(sandbox: Sandbox) -> Image:
    with client(sandbox, "build") as build:
        return push_image(build, f"copy-{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="session")
def read_only_build(sandbox: Sandbox) -> Iterator[RegistryState]:
    """A second docker-registry serving the build registry's storage in read-only mode."""
    twin = RegistryState(stage="build-readonly", port=free_port(), password=sandbox.state.registries["build"].password)
    pid = registries.start(sandbox.state, twin, read_only=True, data_of="build")
    try:
        wait_until(
            lambda: registries.answers(twin),
            part="read-only registry",
            pid=pid,
            log=sandbox.state.logs / "registry-build-readonly.log",
            timeout=30,
        )
        yield twin
    finally:
        stop(pid)


def test_a_three_layer_image_keeps_its_digest_and_a_second_copy_moves_no_blob(
    sandbox: Sandbox, image: Image, read_only_build: RegistryState
) -> None:
    source = RegistryClient(read_only_build.login())
    with source, client(sandbox, "qa") as qa:
        first = copy_image(source, image.repository, qa, "app", image.digest, tags=("v1",))
        assert sorted(first.copied) == sorted(image.blobs) and first.manifests_written == 1
        assert qa.manifest_digest("app", image.digest) == image.digest
        assert qa.manifest_digest("app", "v1") == image.digest
        assert first.bytes_copied > 3 * 256 * 1024

        again = copy_image(source, image.repository, qa, "app", image.digest, tags=("v1",))
        assert (again.copied, again.present, again.manifests_written, again.tags) == ([], [], 0, [])


def test_the_read_only_source_refuses_writes(read_only_build: RegistryState) -> None:
    # So the copies from it above succeed without writing to their source
    twin = RegistryClient(read_only_build.login())
    with twin, pytest.raises(RegistryError, match="answered 405 for upload to anything"):
        twin.upload_blob("anything", "sha256:" + "0" * 64, [b"x"])


def test_a_copy_cut_off_half_way_finishes_copying_only_what_is_missing(sandbox: Sandbox, image: Image) -> None:
    with client(sandbox, "build") as build, client(sandbox, "staging") as staging:
        # Given a first attempt that died after one layer reached the destination
        with build.open_blob(image.repository, image.blobs[1]) as response:
            staging.upload_blob("app", image.blobs[1], response.iter_bytes())
        report = copy_image(build, image.repository, staging, "app", image.digest)
        assert report.present == [image.blobs[1]]
        assert sorted(report.copied) == sorted(set(image.blobs) - {image.blobs[1]})
        assert staging.manifest_digest("app", image.digest) == image.digest


def test_within_one_registry_blobs_are_mounted(sandbox: Sandbox, image: Image) -> None:
    with client(sandbox, "build") as build:
        report = copy_image(build, image.repository, build, f"{image.repository}-retag", image.digest)
    assert sorted(report.mounted) == sorted(image.blobs) and report.copied == []


def test_an_index_is_copied_with_its_children(sandbox: Sandbox, image: Image) -> None:
    with client(sandbox, "build") as build, client(sandbox, "prod") as prod:
        body, _ = build.manifest(image.repository, image.digest)
        index = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_INDEX,
                "manifests": [
                    {
                        "mediaType": OCI_MANIFEST,
                        "digest": image.digest,
                        "size": len(body),
                        "platform": {"architecture": "amd64", "os": "linux"},
                    }
                ],
            }
        ).encode()
        index_digest = "sha256:" + hashlib.sha256(index).hexdigest()
        build.put_manifest(image.repository, index_digest, index, OCI_INDEX)
        report = copy_image(build, image.repository, prod, "app", index_digest)
        assert report.manifests_written == 2
        assert prod.manifest_digest("app", index_digest) == index_digest
        assert prod.manifest_digest("app", image.digest) == image.digest


def test_bad_input_writes_nothing_in_the_destination(sandbox: Sandbox, image: Image) -> None:
    with client(sandbox, "build", SecretStr("wrong")) as wrong, client(sandbox, "qa") as qa:
        with pytest.raises(RegistryError, match="refused .* the login of user 'AWS' is wrong"):
            copy_image(wrong, image.repository, qa, "wrong-password", image.digest)
        assert qa.tags("wrong-password") == []
    with client(sandbox, "build") as build, client(sandbox, "qa") as qa:
        with pytest.raises(RegistryError, match="has no image sha256:0000"):
            copy_image(build, image.repository, qa, "missing", "sha256:" + "0" * 64)
        assert qa.tags("missing") == []
        other = push_image(build, image.repository, layers=1)
        copy_image(build, image.repository, qa, "moved", other.digest, tags=("v9",))
        with pytest.raises(TagConflictError, match="tag 'v9' of .*/moved already names"):
            copy_image(build, image.repository, qa, "moved", image.digest, tags=("v9",))
        assert qa.manifest_digest("moved", image.digest) is None
