"""The base image (BuildBaseImage) without Docker Hub: a minimal Debian root file system made with
``debootstrap`` from the machine's own Debian source, imported into the Docker engine.

Images that need packages install them at build time over the host's network, from the same
Debian source; the base therefore carries the machine's apt sources and its ``Acquire`` settings.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

from cloudops.errors import ImageBuildError

SUITE = "bookworm"
VARIANT = "minbase"
SOURCES_FILES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))
APT_CONF = Path("/etc/apt/apt.conf.d")
IMAGE_CHANGES = ['CMD ["/bin/bash"]', "ENV LANG=C.UTF-8"]


def host_mirror() -> str:
    """The machine's Debian mirror, from its apt sources."""
    for source in _source_files():
        text = source.read_text(errors="replace")
        match = re.search(r"^URIs:\s*(\S+/debian)\s*$", text, re.MULTILINE) or re.search(
            r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+/debian)\s+", text, re.MULTILINE
        )
        if match:
            return match.group(1)
    raise ImageBuildError(
        "no Debian mirror in /etc/apt/sources.list(.d); the base image needs the machine's Debian source"
    )


def apt_settings() -> dict[str, str]:
    """The files that tell apt where and how to fetch: copied into the base image, and part of its identity."""
    files = {str(path): path.read_text(errors="replace") for path in _source_files()}
    for path in sorted(APT_CONF.glob("*")) if APT_CONF.is_dir() else []:
        if path.is_file() and "Acquire::" in path.read_text(errors="replace"):
            files[str(path)] = path.read_text(errors="replace")
    return files


def base_inputs(mirror: str, settings: dict[str, str]) -> str:
    """What decides the base image: the suite, variant, mirror and apt settings."""
    return hashlib.sha256(json.dumps([SUITE, VARIANT, mirror, settings], sort_keys=True).encode()).hexdigest()


def make_rootfs_tar(workdir: Path, mirror: str, settings: dict[str, str], log: Callable[[str], None]) -> Path:
    """debootstrap a minimal Debian into ``workdir`` and tar it for ``docker import``; the tar's path."""
    if shutil.which("debootstrap") is None:
        raise ImageBuildError("debootstrap is not installed; run scripts/setup.sh (apt-get install debootstrap)")
    rootfs = workdir / "rootfs"
    log(f"debootstrap --variant={VARIANT} {SUITE} from {mirror}")
    process = subprocess.run(
        ["debootstrap", f"--variant={VARIANT}", SUITE, str(rootfs), mirror],
        capture_output=True,
        text=True,
        check=False,
    )
    if process.returncode != 0:
        raise ImageBuildError(
            f"debootstrap failed ({process.returncode}):\n{(process.stdout + process.stderr)[-2000:]}"
        )
    (rootfs / "etc/apt/sources.list").unlink(missing_ok=True)
    for name, text in settings.items():
        target = rootfs / name.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    shutil.rmtree(rootfs / "var/cache/apt/archives", ignore_errors=True)
    shutil.rmtree(rootfs / "var/lib/apt/lists", ignore_errors=True)
    (rootfs / "var/lib/apt/lists/partial").mkdir(parents=True, exist_ok=True)
    (rootfs / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)
    archive = workdir / "rootfs.tar"
    with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tar:
        for child in sorted(rootfs.iterdir()):
            if child.name in ("dev", "proc", "sys"):
                tar.add(child, arcname=child.name, recursive=False)
            else:
                tar.add(child, arcname=child.name)
    _remove_rootfs(rootfs)
    return archive


def _remove_rootfs(rootfs: Path) -> None:
    # debootstrap leaves device nodes and root-owned files behind: remove them whatever they are.
    subprocess.run(["rm", "-rf", "--one-file-system", str(rootfs)], check=False)


def _source_files() -> list[Path]:
    found = []
    for entry in SOURCES_FILES:
        if entry.is_file():
            found.append(entry)
        elif entry.is_dir():
            found += sorted(p for p in entry.iterdir() if p.suffix in (".list", ".sources") and p.is_file())
    return found


def scratch_dir() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="cloudops-base-")
