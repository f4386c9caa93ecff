"""Reading an application's source from git: resolve a ref, export a clean tree at a commit."""

from __future__ import annotations

import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cloudops import safe_tar
from cloudops.errors import PackagingError


@dataclass(frozen=True)
class SourceRevision:
    repository: str
    ref: str
    commit: str
    commit_time: int  # seconds since the epoch: the package's timestamps, so builds are reproducible


def _git(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)


def local_clone(repository: str, cache: Path) -> Path:
    """A local path to read ``repository`` from: itself when local, else a mirror fetched into ``cache``."""
    path = Path(repository)
    if path.exists():
        if _git("rev-parse", "--git-dir", cwd=path).returncode != 0:
            raise PackagingError(f"{repository} is not a git repository; point the application's `repository` at one")
        return path
    mirror = cache / (repository.rstrip("/").rsplit("/", 1)[-1] or "source")
    if mirror.exists():
        result = _git("fetch", "--prune", "origin", "+refs/*:refs/*", cwd=mirror)
    else:
        cache.mkdir(parents=True, exist_ok=True)
        result = _git("clone", "--mirror", repository, str(mirror))
    if result.returncode != 0:
        raise PackagingError(f"cannot fetch {repository}: {result.stderr.strip()}; check the URL and your access")
    return mirror


def resolve(repository: Path, ref: str) -> SourceRevision:
    """The commit ``ref`` names in ``repository``, or an error saying the ref does not exist."""
    if ref.startswith("-"):
        raise PackagingError(f"ref {ref!r} is not a git ref; give a branch, tag or commit")
    found = _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=repository)
    if found.returncode != 0:
        raise PackagingError(
            f"ref {ref!r} does not exist in {repository}; give a branch, tag or commit that exists "
            "(`git -C <repository> show-ref` lists them)"
        )
    commit = found.stdout.strip()
    when = _git("show", "-s", "--format=%ct", commit, cwd=repository)
    return SourceRevision(str(repository), ref, commit, int(when.stdout.strip()))


def export_tree(repository: Path, commit: str, subdirectory: str, destination: Path) -> Path:
    """Write the files of ``subdirectory`` at ``commit`` into ``destination`` (a clean work folder)."""
    destination.mkdir(parents=True, exist_ok=True)
    pathspec = [subdirectory.strip("/")] if subdirectory.strip("/") else []
    with tempfile.TemporaryFile() as archive:
        process = subprocess.run(
            ["git", "archive", "--format=tar", commit, *pathspec],
            cwd=repository,
            stdout=archive,
            stderr=subprocess.PIPE,
            check=False,
        )
        if process.returncode != 0:
            raise PackagingError(
                f"cannot export {subdirectory or 'the repository'} at {commit[:12]}: "
                f"{process.stderr.decode(errors='replace').strip()}; check the application's `subdirectory`"
            )
        archive.seek(0)
        with tarfile.open(fileobj=archive) as tar:
            safe_tar.extract_all(tar, destination)
    root = destination / subdirectory.strip("/") if subdirectory.strip("/") else destination
    if not root.is_dir():
        raise PackagingError(f"{subdirectory!r} does not exist at {commit[:12]}; fix the application's `subdirectory`")
    return root
