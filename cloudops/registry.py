"""A client of the OCI distribution API: what a registry holds, and tags by digest.

It speaks to ECR (basic auth with the ``AWS`` user and a token from ``ecr:GetAuthorizationToken``)
and to the sandbox's registries alike. Tags are names for people; images are their digests.
"""

from __future__ import annotations

from typing import Self

import httpx

from cloudops.aws.ecr import RegistryLogin
from cloudops.errors import CloudOpsError

MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
)


class RegistryError(CloudOpsError):
    """A registry that refused a request or answered something unexpected."""


class TagConflictError(RegistryError):
    """A tag that already names another digest: tags are immutable."""


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

    def tag(self, repository: str, digest: str, tag: str) -> bool:
        """Point ``tag`` at ``digest``; False when it already did. A tag never moves to another digest."""
        current = self.manifest_digest(repository, tag)
        if current == digest:
            return False
        if current is not None:
            raise TagConflictError(
                f"tag {tag!r} of {self.host}/{repository} already names {current}, not {digest}; tags are "
                "immutable: release under a new version"
            )
        body, media_type = self.manifest(repository, digest)
        response = self._request(
            "PUT", f"/v2/{repository}/manifests/{tag}", content=body, headers={"Content-Type": media_type}
        )
        self._check(response, f"{repository}:{tag}")
        return True

    def tags(self, repository: str) -> list[str]:
        response = self._request("GET", f"/v2/{repository}/tags/list")
        if response.status_code == 404:
            return []
        self._check(response, repository)
        return sorted(response.json().get("tags") or [])

    def _request(self, method: str, url: str, **kwargs: object) -> httpx.Response:
        return self._http.request(method, url, **kwargs)  # type: ignore[arg-type]

    def _check(self, response: httpx.Response, what: str) -> None:
        if response.status_code in (401, 403):
            raise RegistryError(
                f"{self.host} refused {what} ({response.status_code}): the login of user "
                f"{self.login.username!r} is wrong or lacks permission; check the account block's registry login"
            )
        if response.status_code >= 500:
            response.raise_for_status()  # transient: the task layer retries HTTPStatusError 5xx
        if response.status_code >= 400:
            raise RegistryError(f"{self.host} answered {response.status_code} for {what}: {response.text[:300]}")
