"""The release record: what build-release made, by digest, saved in the build account's bucket."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from cloudops.aws import s3
from cloudops.aws.session import AccountSession
from cloudops.errors import CloudOpsError
from cloudops.image_roles import ImageRoles
from cloudops.images import BuiltImage
from cloudops.snapshots import SnapshotRecord


class Release(BaseModel):
    """One release of the application: a package, images by digest, database snapshots."""

    model_config = ConfigDict(frozen=True)

    application: str
    version: str
    commit: str
    ref: str
    package_digest: str
    package_uri: str
    images: dict[str, BuiltImage]
    snapshots: dict[str, SnapshotRecord]
    datasets: dict[str, str]
    flow_run_id: str | None = None
    # Which image played which role when it was built (the database image has the author data baked in); a
    # record written before roles were configurable has the default roles.
    image_roles: ImageRoles = Field(default_factory=ImageRoles)

    @property
    def id(self) -> str:
        return f"{self.application}@{self.version}"


def release_key(application: str, version: str) -> str:
    return f"releases/{application}/{version}.json"


def save_release(account: AccountSession, bucket: str, release: Release) -> str:
    """Write the record under its version (and as the latest); its S3 URI."""
    key = release_key(release.application, release.version)
    body = release.model_dump_json(indent=2).encode()
    s3.put_object(account, bucket, key, body, "application/json")
    s3.put_object(account, bucket, f"releases/{release.application}/latest.json", body, "application/json")
    return f"s3://{bucket}/{key}"


def load_release(account: AccountSession, bucket: str, application: str, version: str) -> Release:
    return Release.model_validate_json(s3.get_object(account, bucket, release_key(application, version)))


LATEST = "latest"
SHOWN_VERSIONS = 5


class UnknownReleaseError(CloudOpsError):
    """A version that the build account's bucket holds no release record of."""


def recorded_versions(account: AccountSession, bucket: str, application: str) -> list[str]:
    """The versions of ``application`` with a release record in ``bucket`` (``latest`` left out), sorted."""
    prefix = f"releases/{application}/"
    names = (key.removeprefix(prefix).removesuffix(".json") for key in s3.list_keys(account, bucket, prefix))
    return sorted(name for name in names if name and name != LATEST and "/" not in name)


def require_release(account: AccountSession, bucket: str, application: str, version: str) -> None:
    """Nothing when ``version`` (or ``latest``) has a release record; else an error naming some that do."""
    if not version.strip():
        raise UnknownReleaseError(f"no release version given; give {LATEST!r} or a version `cloudops status` shows")
    if s3.object_exists(account, bucket, release_key(application, version)):
        return
    known = recorded_versions(account, bucket, application)
    if not known:
        raise UnknownReleaseError(
            f"{application} has no release yet (s3://{bucket}/releases/{application}/ is empty); build one first "
            "(`cloudops build` or `cloudops release`)"
        )
    shown = ", ".join(known[-SHOWN_VERSIONS:])
    more = f" and {len(known) - SHOWN_VERSIONS} more" if len(known) > SHOWN_VERSIONS else ""
    raise UnknownReleaseError(
        f"{application} has no release {version!r}; give {LATEST!r} or one it has ({shown}{more}; "
        "`cloudops status` shows what each stage runs)"
    )


def release_markdown(release: Release, uri: str) -> str:
    """The release as a markdown summary with a table of images and digests."""
    lines = [
        f"# Release {release.version} of {release.application}",
        "",
        f"- **commit**: `{release.commit}` (ref `{release.ref}`)",
        f"- **package**: `{release.package_digest}` at `{release.package_uri}`",
        f"- **record**: `{uri}`",
        f"- **data sets**: {', '.join(release.datasets)}",
        "",
        "| image | digest | tags | rebuilt |",
        "|---|---|---|---|",
    ]
    for name, image in release.images.items():
        lines.append(f"| {name} | `{image.digest}` | {', '.join(image.tags)} | {'yes' if image.rebuilt else 'no'} |")
    lines += ["", "| database | snapshot | shared with | taken now |", "|---|---|---|---|"]
    for environment, snap in release.snapshots.items():
        lines.append(
            f"| {environment} | `{snap.identifier}` | {', '.join(snap.shared_with) or '-'} | "
            f"{'yes' if snap.created else 'no'} |"
        )
    return "\n".join(lines) + "\n"
