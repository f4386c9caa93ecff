"""A task definition's EFS volumes as folders of the sandbox, its host volumes as this machine's paths (the
EC2 launch type's: the instance is the sandbox's machine), and its ``links`` as names in the task.

An EFS volume (``efsVolumeConfiguration``: a file system and, optionally, an access point) is the folder
``<efs root>/<account>/<file system id>/<access point root path>`` bind-mounted at each ``mountPoints``
entry's ``containerPath`` (read-only where it says so). The folder is made when missing and outlives the
task, a redeploy, the service's stack and `sandbox down`/`up`: each stage's account has folders of its own.

NOTE: on AWS, EFS creates an access point's root directory with its ``CreationInfo`` owner and mode, and
enforces its ``PosixUser`` on every file operation; the sandbox makes the folder writable by everyone instead
(the containers' users differ from the access point's uid).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

Mount = tuple[str, str, bool]  # (host folder, container path, read only), as ContainerSpec.mounts
AccessPointRoot = Callable[[str], str | None]  # access point id -> its root directory path, or None if unknown
LINK_ADDRESS = "127.0.0.1"


def efs_configuration(volume: dict[str, Any]) -> dict[str, Any] | None:
    """A volume's EFS configuration, as the API registers it or as moto keeps one from CloudFormation
    (``Volumes`` turned to camelCase: ``eFSVolumeConfiguration`` with ``filesystemId``)."""
    found = volume.get("efsVolumeConfiguration") or volume.get("eFSVolumeConfiguration")
    return dict(found) if found else None


def host_path(volume: dict[str, Any]) -> Path | None:
    """A host volume's ``sourcePath`` (EC2 launch type: a path of the instance, here of this machine); None for
    another kind. A host volume without one (a Docker volume ECS would make) is refused."""
    host = volume.get("host")
    if host is None:
        return None
    source = str((host or {}).get("sourcePath") or "")
    if not source.startswith("/"):
        raise LookupError(f"host volume {volume.get('name')!r} names no absolute sourcePath (the sandbox needs one)")
    return Path(source)


def volume_folder(efs_root: Path, account: str, volume: dict[str, Any], access_point_root: AccessPointRoot) -> Path:
    """The sandbox folder that plays an EFS volume of a task definition."""
    config = efs_configuration(volume)
    if config is None:
        raise LookupError(f"volume {volume.get('name')!r} is not an EFS volume (the sandbox runs only EFS volumes)")
    file_system = str(config.get("fileSystemId") or config.get("filesystemId") or "")
    if not file_system:
        raise LookupError(f"EFS volume {volume.get('name')!r} names no file system")
    path = str(config.get("rootDirectory") or "/")
    access_point = str((config.get("authorizationConfig") or {}).get("accessPointId") or "")
    if access_point:
        root = access_point_root(access_point)
        if root is None:
            raise LookupError(f"EFS access point {access_point} of volume {volume.get('name')!r} does not exist")
        path = root  # ECS: with an access point, the volume's root directory is the access point's
    parts = [part for part in Path(path).parts if part not in ("/", "", ".")]
    if ".." in parts:
        raise LookupError(f"EFS volume {volume.get('name')!r}: root directory {path!r} leaves the file system")
    return efs_root.joinpath(account, file_system, *parts)


def container_mounts(
    efs_root: Path | None,
    account: str,
    volumes: list[dict[str, Any]],
    container: dict[str, Any],
    access_point_root: AccessPointRoot,
) -> list[Mount]:
    """The container's ``mountPoints`` as bind mounts of the volumes' folders (made when missing)."""
    by_name = {str(v.get("name")): v for v in volumes}
    mounts = []
    for point in container.get("mountPoints", []):
        name = str(point.get("sourceVolume"))
        volume = by_name.get(name)
        if volume is None:
            raise LookupError(f"container {container.get('name')!r} mounts volume {name!r}, which the task lacks")
        source = host_path(volume)
        if source is not None:  # a bind mount of the instance's own path (the EC2 launch type's host volume)
            mounts.append((str(source), str(point["containerPath"]), bool(point.get("readOnly", False))))
            continue
        if efs_root is None:
            raise LookupError("the sandbox gave the ECS runtime no EFS folder (RuntimeConfig.efs_root)")
        folder = volume_folder(efs_root, account, volume, access_point_root)
        if not folder.is_dir():
            folder.mkdir(parents=True)
            folder.chmod(0o777)  # see the NOTE above: writable by the containers' users, whoever they are
        mounts.append((str(folder), str(point["containerPath"]), bool(point.get("readOnly", False))))
    return mounts


def link_hosts(containers: list[dict[str, Any]]) -> dict[str, str]:
    """``links`` (``name`` or ``name:alias``) as host names of the task's shared network namespace.

    NOTE: in ``bridge`` mode each container has an address of its own and a link names the other container's;
    in the sandbox a task's containers share one namespace (as ``awsvpc`` gives them), so a linked name is
    127.0.0.1 and two containers of a task cannot listen on the same port.
    """
    hosts = {}
    for container in containers:
        for link in container.get("links", []) or []:
            name, _, alias = str(link).partition(":")
            hosts[alias or name] = LINK_ADDRESS
    return hosts
