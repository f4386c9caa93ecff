"""The lookup service's authorities: the release's authorities folder, filled into the stage's EFS access point
when it changed.

The package's manifest holds every file's SHA-256, so the folder's digest is known without unpacking it: a
SHA-256 over the sorted (path, file digest) pairs under ``authorities/``. The stage's config store keeps the
digest last filled and the access point it was filled into; a deploy whose release has another digest (or
whose access point is another: the prerequisites were made anew) runs the service stack's fill task
definition once (ECS RunTask) and records the digest only when the task stopped with exit code 0.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict

from cloudops import config_store
from cloudops.aws import ecs, s3
from cloudops.aws.session import AccountSession
from cloudops.errors import CloudOpsError
from cloudops.packaging import AUTHORITIES_PREFIX, PackageManifest
from cloudops.release import Release

FILL_TASK_OUTPUT = "AuthoritiesFillTaskDefinition"
CLUSTER_OUTPUT = "ClusterName"
ACCESS_POINT_OUTPUT = "AuthoritiesAccessPointId"
STORE_ENVIRONMENT = "lookup-authorities"  # its own path: a teardown clears the endpoints, not what EFS holds
FILL_TIMEOUT = 600.0
Log = Callable[[str], None]


class FillRecord(BaseModel):
    """What the stage's authorities access point holds: the digest filled, into which access point, by which task."""

    model_config = ConfigDict(frozen=True)

    digest: str
    access_point: str
    task: str = ""


class FillOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    filled: bool
    digest: str
    task: str = ""
    reason: str


def digest(files: dict[str, str]) -> str | None:
    """The authorities folder's digest from a package manifest's files (path -> SHA-256); None without any."""
    entries = sorted((path, sha) for path, sha in files.items() if path.startswith(AUTHORITIES_PREFIX))
    if not entries:
        return None
    hasher = hashlib.sha256()
    for path, sha in entries:
        hasher.update(f"{path}\0{sha}\n".encode())
    return f"sha256:{hasher.hexdigest()}"


def needs_fill(recorded: FillRecord | None, wanted: str, access_point: str) -> str | None:
    """Why the access point must be filled, or None when it holds ``wanted`` already."""
    if recorded is None:
        return "never filled"
    if recorded.access_point != access_point:
        return f"access point {access_point} is new (it was {recorded.access_point})"
    if recorded.digest != wanted:
        return f"the authorities changed ({recorded.digest} -> {wanted})"
    return None


def manifest_key(release: Release) -> str:
    """The package manifest's key beside its archive (packaging.upload)."""
    key = release.package_uri.removeprefix("s3://").split("/", 1)[1]
    return key.removesuffix(".tar.zst") + ".manifest.json"


def read_manifest(build: AccountSession, bucket: str, release: Release) -> PackageManifest:
    """The release's package manifest, from the build account's bucket."""
    body = s3.get_object(build, bucket, manifest_key(release))
    return PackageManifest.model_validate_json(body)


def store_path(stage: str, application: str) -> str:
    return config_store.path(stage, application, STORE_ENVIRONMENT)


def recorded(store: config_store.ConfigStore, stage: str, application: str) -> FillRecord | None:
    values = store.get(store_path(stage, application))
    return FillRecord.model_validate(values) if "digest" in values and "access_point" in values else None


def fill(
    account: AccountSession,
    store: config_store.ConfigStore,
    stage: str,
    release: Release,
    manifest: PackageManifest,
    prerequisites: dict[str, str],
    service: dict[str, str],
    log: Log,
    timeout: float = FILL_TIMEOUT,
) -> FillOutcome:
    """Fill the stage's authorities access point from the release when its authorities changed."""
    wanted = digest(manifest.files)
    if wanted is None:
        return FillOutcome(filled=False, digest="", reason="the release's package has no authorities/")
    missing = [k for k in (FILL_TASK_OUTPUT, CLUSTER_OUTPUT) if k not in service]
    missing += [ACCESS_POINT_OUTPUT] if ACCESS_POINT_OUTPUT not in prerequisites else []
    if missing:
        raise CloudOpsError(
            f"the lookup stacks have no outputs {', '.join(missing)}; deploy them from this version's templates"
        )
    access_point = prerequisites[ACCESS_POINT_OUTPUT]
    why = needs_fill(recorded(store, stage, release.application), wanted, access_point)
    if why is None:
        log(f"authorities {wanted} are in access point {access_point} already: not filled again")
        return FillOutcome(filled=False, digest=wanted, reason="unchanged")
    cluster, definition = service[CLUSTER_OUTPUT], service[FILL_TASK_OUTPUT]
    log(f"filling access point {access_point} with the authorities of {release.id} ({why})")
    arn = ecs.run_task(account, cluster, definition, started_by=f"cloudops-{release.version}", launch_type="EC2")
    result = ecs.wait_stopped(account, cluster, arn, timeout)
    if not result.succeeded:
        codes = ", ".join(f"{name} {code}" for name, code in result.exit_codes.items())
        raise CloudOpsError(
            f"the authorities fill task {arn} failed ({result.stopped_reason}; exit codes: {codes or 'none'}"
            f"{'; ' + '; '.join(result.reasons.values()) if result.reasons else ''}); see its logs, then deploy again"
        )
    store.put(store_path(stage, release.application), {"digest": wanted, "access_point": access_point, "task": arn})
    log(f"access point {access_point} holds authorities {wanted} (task {arn})")
    return FillOutcome(filled=True, digest=wanted, task=arn, reason=why)
