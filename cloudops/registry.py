"""A client of the OCI distribution API: what a registry holds, and tags by digest.

It speaks to ECR (basic auth with the ``AWS`` user and a token from ``ecr:GetAuthorizationToken``)
and to the sandbox's registries alike. Tags are names for people; images are their digests.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Self

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from cloudops.errors import CloudOpsError, TransientError

MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
)


class RegistryLogin(BaseModel):
    """Where an account's registry is and how to log in to it."""

    model_config = ConfigDict(frozen=True)

    url: str
    username: str
    password: SecretStr

    @property
    def host(self) -> str:
        return self.url.split("://", 1)[-1].rstrip("/")


class RegistryError(CloudOpsError):
    """A registry that refused a request or answered something unexpected."""


class RegistryUnavailableError(RegistryError, TransientError):
    """The registry did not answer, or dropped the connection: worth another try (the task layer retries it)."""


class TagConflictError(RegistryError):
    """A tag that already names another digest: tags are immutable."""


@functools.cache
def _tls() -> ssl.SSLContext:
    """The TLS context every registry client shares: httpx builds one per client otherwise, loading the CA
    certificates each time (0.17 s, more than a whole registry check)."""
    return httpx.create_ssl_context()


class RegistryClient:
    """One registry, with one login."""

    def __init__(self, login: RegistryLogin, timeout: float = 60.0) -> None:
        self.login = login
        self.host = login.host
        self._http = httpx.Client(
            base_url=login.url.rstrip("/"),
            auth=(login.username, login.password.get_secret_value()),
            timeout=timeout,
            headers={"Accept": MANIFEST_TYPES},
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=16),
            verify=_tls(),
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def manifest_digest(self, repository: str, reference: str) -> str | None:
        """The digest ``reference`` (a tag or digest) names in ``repository``, or None."""
        response = self._request("HEAD", f"/v2/{repository}/manifests/{reference}")
        if response.status_code == 404:
            return None
        self._check(response, f"{repository}:{reference}")
        digest: str | None = response.headers.get("Docker-Content-Digest")
        if not digest:
            raise RegistryError(f"{self.host} gave no digest for {repository}:{reference}")
        return digest

    def manifest(self, repository: str, reference: str) -> tuple[bytes, str]:
        """The manifest's exact bytes and media type."""
        response = self._request("GET", f"/v2/{repository}/manifests/{reference}")
        if response.status_code == 404:
            raise RegistryError(f"{self.host}/{repository} has no image {reference}; build or promote it first")
        self._check(response, f"{repository}:{reference}")
        return response.content, response.headers.get("Content-Type", "")

    def check_tag(self, repository: str, digest: str, tag: str) -> bool:
        """True when ``tag`` is free, False when it already names ``digest``; an error when it names another."""
        current = self.manifest_digest(repository, tag)
        if current == digest:
            return False
        if current is not None:
            raise TagConflictError(
                f"tag {tag!r} of {self.host}/{repository} already names {current}, not {digest}; tags are "
                "immutable: release under a new version"
            )
        return True

    def tag(self, repository: str, digest: str, tag: str) -> bool:
        """Point ``tag`` at ``digest``; False when it already did. A tag never moves to another digest."""
        if not self.check_tag(repository, digest, tag):
            return False
        body, media_type = self.manifest(repository, digest)
        response = self._request(
            "PUT", f"/v2/{repository}/manifests/{tag}", content=body, headers={"Content-Type": media_type}
        )
        self._check(response, f"{repository}:{tag}")
        return True

    def blob_exists(self, repository: str, digest: str) -> bool:
        response = self._request("HEAD", f"/v2/{repository}/blobs/{digest}")
        if response.status_code == 404:
            return False
        self._check(response, f"blob {digest} of {repository}")
        return True

    @contextmanager
    def open_blob(self, repository: str, digest: str) -> Iterator[httpx.Response]:
        """A streamed GET of a blob (redirects followed, as ECR serves blobs from S3)."""
        with self._http.stream("GET", f"/v2/{repository}/blobs/{digest}", follow_redirects=True) as response:
            if response.status_code == 404:
                raise RegistryError(f"{self.host}/{repository} has no blob {digest}; its manifest is broken")
            if response.status_code >= 400:
                response.read()
            self._check(response, f"blob {digest} of {repository}")
            yield response

    def mount_blob(self, repository: str, digest: str, from_repository: str) -> bool:
        """Mount a blob from another repository of this registry; False when the registry would not."""
        response = self._request(
            "POST", f"/v2/{repository}/blobs/uploads/", params={"mount": digest, "from": from_repository}
        )
        if response.status_code == 201:
            return True
        self._check(response, f"mount of {digest} into {repository}")
        if response.status_code == 202:  # an upload was started instead: cancel it
            location = response.headers.get("Location")
            if location:
                self._request("DELETE", location)
        return False

    def upload_blob(self, repository: str, digest: str, chunks: Iterable[bytes]) -> None:
        """Upload a blob in one streamed PUT; the registry checks ``digest`` against what it received."""
        started = self._request("POST", f"/v2/{repository}/blobs/uploads/")
        self._check(started, f"upload to {repository}")
        location = started.headers["Location"]
        separator = "&" if "?" in location else "?"
        response = self._request(
            "PUT",
            f"{location}{separator}digest={digest}",
            content=chunks,
            headers={"Content-Type": "application/octet-stream"},
        )
        if response.status_code == 400 and "DIGEST_INVALID" in response.text:
            raise RegistryError(f"{self.host}/{repository} refused blob {digest}: what it received has another digest")
        self._check(response, f"blob {digest} into {repository}")

    def put_manifest(self, repository: str, reference: str, body: bytes, media_type: str) -> str:
        """Put manifest bytes unchanged; the digest the registry computed."""
        response = self._request(
            "PUT", f"/v2/{repository}/manifests/{reference}", content=body, headers={"Content-Type": media_type}
        )
        self._check(response, f"{repository}:{reference}")
        return str(response.headers.get("Docker-Content-Digest", ""))

    def tags(self, repository: str) -> list[str]:
        response = self._request("GET", f"/v2/{repository}/tags/list")
        if response.status_code == 404:
            return []
        self._check(response, repository)
        return sorted(response.json().get("tags") or [])

    def _request(self, method: str, url: str, **kwargs: object) -> httpx.Response:
        try:
            return self._http.request(method, url, **kwargs)  # type: ignore[arg-type]
        except httpx.TransportError as error:
            raise RegistryUnavailableError(
                f"registry {self.host} did not answer {method} {url.split('?')[0]} ({type(error).__name__}: "
                f"{error or 'no answer'}): check that it runs and is reachable; the run can be retried as it is"
            ) from error

    def _check(self, response: httpx.Response, what: str) -> None:
        if response.status_code in (401, 403):
            raise RegistryError(
                f"{self.host} refused {what} ({response.status_code}): the login of user "
                f"{self.login.username!r} is wrong or lacks permission; check the account block's registry login"
            )
        if response.status_code >= 500 or response.status_code == 429:
            # transient (a 5xx, or 429: ECR's TOOMANYREQUESTS when throttled): the task layer retries these
            response.raise_for_status()
        if response.status_code >= 400:
            raise RegistryError(f"{self.host} answered {response.status_code} for {what}: {response.text[:300]}")
