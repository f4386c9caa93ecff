"""Copying an image by digest from one registry to another, without a Docker engine.

The destination writes; the source is only read. The manifest is compared first (nothing to do when
the destination has it); each blob is checked with HEAD and only missing ones move, streamed (memory
does not grow with blob size) and in parallel, their SHA-256 checked on the way through and again by
the destination registry; within one registry blobs are mounted, not copied. The manifest bytes are
put unchanged, so the digest is preserved; image indexes are copied with their children.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from threading import Lock

from cloudops.registry import RegistryClient, RegistryError

INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
CHUNK = 1 << 20
PARALLEL_BLOBS = 4


@dataclass
class CopyReport:
    digest: str
    copied: list[str] = field(default_factory=list)
    mounted: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    manifests_written: int = 0
    bytes_copied: int = 0
    tags: list[str] = field(default_factory=list)
    _lock: Lock = field(default_factory=Lock, repr=False)

    def add(self, kind: str, digest: str, size: int = 0) -> None:
        with self._lock:
            getattr(self, kind).append(digest)
            self.bytes_copied += size


def copy_image(
    source: RegistryClient,
    source_repository: str,
    destination: RegistryClient,
    destination_repository: str,
    digest: str,
    tags: tuple[str, ...] = (),
) -> CopyReport:
    """Copy image ``digest`` (a manifest or an index) and apply ``tags`` in the destination."""
    # Refuse a moved tag before writing anything; tags that already name the digest need nothing more.
    missing_tags = [tag for tag in tags if destination.check_tag(destination_repository, digest, tag)]
    report = CopyReport(digest)
    _copy_manifest(source, source_repository, destination, destination_repository, digest, report)
    for tag in missing_tags:
        if destination.tag(destination_repository, digest, tag):
            report.tags.append(tag)
    return report


def _copy_manifest(
    source: RegistryClient,
    source_repo: str,
    destination: RegistryClient,
    destination_repo: str,
    digest: str,
    report: CopyReport,
) -> None:
    if destination.manifest_digest(destination_repo, digest) == digest:
        return
    body, media_type = source.manifest(source_repo, digest)
    actual = "sha256:" + hashlib.sha256(body).hexdigest()
    if actual != digest:
        raise RegistryError(f"{source.host}/{source_repo} served manifest {actual} for {digest}; refusing to copy it")
    document = json.loads(body)
    media_type = media_type or document.get("mediaType", "")
    if media_type in INDEX_TYPES or "manifests" in document:
        for child in document.get("manifests", []):
            _copy_manifest(source, source_repo, destination, destination_repo, child["digest"], report)
    else:
        blobs = [document["config"], *document.get("layers", [])]
        with ThreadPoolExecutor(max_workers=PARALLEL_BLOBS) as pool:
            for future in [
                pool.submit(_copy_blob, source, source_repo, destination, destination_repo, blob["digest"], report)
                for blob in blobs
            ]:
                future.result()
    written = destination.put_manifest(destination_repo, digest, body, media_type)
    if written and written != digest:
        raise RegistryError(f"{destination.host}/{destination_repo} stored manifest {digest} as {written}")
    report.manifests_written += 1


def _copy_blob(
    source: RegistryClient,
    source_repo: str,
    destination: RegistryClient,
    destination_repo: str,
    digest: str,
    report: CopyReport,
) -> None:
    if destination.blob_exists(destination_repo, digest):
        report.add("present", digest)
        return
    if source.host == destination.host and destination.mount_blob(destination_repo, digest, source_repo):
        report.add("mounted", digest)
        return
    with source.open_blob(source_repo, digest) as response:
        hasher = hashlib.sha256()
        size = 0

        def chunks() -> Iterator[bytes]:
            nonlocal size
            for chunk in response.iter_bytes(CHUNK):
                hasher.update(chunk)
                size += len(chunk)
                yield chunk

        destination.upload_blob(destination_repo, digest, chunks())
    if "sha256:" + hasher.hexdigest() != digest:
        raise RegistryError(f"blob {digest} from {source.host}/{source_repo} had another digest on the way")
    report.add("copied", digest, size)
