"""Unpacking a tar archive without letting it write outside its folder: Python's ``data`` extraction filter
where this Python has it (3.11.4 and later), the same refusals made here where it has not (Debian bookworm's
3.11.2, the flow-runner image's Python)."""

from __future__ import annotations

import os
import tarfile
from collections.abc import Iterable
from pathlib import Path

from cloudops.errors import CloudOpsError

HAS_DATA_FILTER = hasattr(tarfile, "data_filter")


class UnsafeArchiveError(CloudOpsError):
    """An archive member would land outside its folder, or is a device."""


def extract_all(tar: tarfile.TarFile, destination: Path, members: Iterable[tarfile.TarInfo] | None = None) -> None:
    """Extract ``members`` (default: every member, in order; a streamed archive too) into ``destination``."""
    root = destination.resolve()
    for member in members if members is not None else tar:
        if HAS_DATA_FILTER:
            tar.extract(member, destination, filter="data")
        else:
            tar.extract(checked(member, root), destination, set_attrs=not member.isdir())


def checked(member: tarfile.TarInfo, root: Path) -> tarfile.TarInfo:
    """``member`` as the ``data`` filter lets it through: inside ``root``, no device, no special mode bits."""
    target = (root / member.name).resolve()
    if os.path.isabs(member.name) or not target.is_relative_to(root):
        raise UnsafeArchiveError(f"archive member {member.name!r} would be written outside {root}")
    if member.isdev() or member.isfifo():
        raise UnsafeArchiveError(f"archive member {member.name!r} is a device or a pipe; a package holds files")
    if member.issym() or member.islnk():
        base = target.parent if member.issym() else root
        if os.path.isabs(member.linkname) or not (base / member.linkname).resolve().is_relative_to(root):
            raise UnsafeArchiveError(f"archive member {member.name!r} links outside {root}: {member.linkname!r}")
    member.mode = (member.mode or 0) & 0o755
    member.uid = member.gid = 0
    member.uname = member.gname = ""
    return member
