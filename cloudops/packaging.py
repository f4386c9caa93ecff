"""The deployment package (CloudTeam): the application built from git at a ref, as one reproducible archive.

The archive is a tar compressed with zstd, with sorted entries, every time set to the commit's time,
owners 0/0 and modes normalised, so the same source gives the same bytes and digest. Its first
entry is ``manifest.json``: the source commit, the build command, every file's SHA-256, the data-set
versions and the tools' versions. It lands in the build account's bucket under its digest.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, cast

import zstandard
from pydantic import BaseModel, ConfigDict

from cloudops import datapop, safe_tar
from cloudops.aws import s3
from cloudops.aws.session import AccountSession
from cloudops.errors import PackagingError
from cloudops.gitsource import SourceRevision, export_tree, resolve
from cloudops.settings import Application

FORMAT = "cloudops-package/1"
AUTHORITIES_PREFIX = "authorities/"  # the application's authorities folder in the package, whatever its name
ZSTD_LEVEL = 3
CHUNK = 1 << 20

Log = Callable[[str], None]


class PackageManifest(BaseModel):
    model_config = ConfigDict(frozen=True)

    format: str = FORMAT
    application: str
    version: str
    commit: str
    build_command: str
    files: dict[str, str]
    datasets: dict[str, str]
    tools: dict[str, str]


class Package(BaseModel):
    """A package built (or found) for a commit: where it is in S3 and what it holds."""

    model_config = ConfigDict(frozen=True)

    digest: str
    size: int
    bucket: str
    key: str
    manifest: PackageManifest
    uploaded: bool

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class BuiltArchive:
    path: Path
    digest: str
    size: int
    manifest: PackageManifest


def version_of(revision: SourceRevision) -> str:
    """The release version: the commit's UTC time and short hash, e.g. 2026.11.25-143012-g1a2b3c4d."""
    when = datetime.fromtimestamp(revision.commit_time, UTC)
    return f"{when:%Y.%m.%d-%H%M%S}-g{revision.commit[:8]}"


def inputs_key(app: Application, commit: str) -> str:
    """What decides the package's bytes: the commit and the build settings. The cache key of a build."""
    settings = app.model_dump(mode="json", exclude={"repository", "dockerfiles"})
    return hashlib.sha256(json.dumps([commit, settings], sort_keys=True).encode()).hexdigest()


def index_key(app: Application, commit: str) -> str:
    return f"packages/{app.name}/by-inputs/{inputs_key(app, commit)}.json"


def find_existing(account: AccountSession, bucket: str, app: Application, commit: str) -> Package | None:
    """The package built before from the same commit and build settings, if its archive is still there."""
    key = index_key(app, commit)
    if not s3.object_exists(account, bucket, key):
        return None
    record = Package.model_validate_json(s3.get_object(account, bucket, key))
    if not s3.object_exists(account, bucket, record.key):
        return None
    return record.model_copy(update={"uploaded": False})


def archive_exists(account: AccountSession, package: Package) -> bool:
    return s3.object_exists(account, package.bucket, package.key)


def build_archive(
    app: Application, repository: Path, ref: str, workdir: Path, log: Log = lambda line: None
) -> BuiltArchive:
    """Export ``ref`` into a clean folder, run the build command, and write the reproducible archive."""
    revision = resolve(repository, ref)
    version = version_of(revision)
    source = export_tree(repository, revision.commit, app.subdirectory, workdir / "source")
    _check_source(app, source)
    _run_build(app, source, revision, version, log)
    entries = _package_entries(app, source)
    files = {name: _sha256_file(path) for name, path in entries}
    datasets = datapop.versions(datapop.discover(source / app.datasets, app.datasets))
    manifest = PackageManifest(
        application=app.name,
        version=version,
        commit=revision.commit,
        build_command=app.build_command,
        files=files,
        datasets=datasets,
        tools=_tool_versions(),
    )
    archive = workdir / "package.tar.zst"
    digest, size = write_archive(archive, manifest, entries, revision.commit_time)
    log(f"package {digest} ({size} bytes, {len(files)} files) for {revision.commit[:12]}")
    return BuiltArchive(archive, digest, size, manifest)


def write_archive(
    destination: Path, manifest: PackageManifest, entries: list[tuple[str, Path]], mtime: int
) -> tuple[str, int]:
    """Write the archive; its ``sha256:`` digest and size. Same entries and time, same bytes."""
    hasher = _HashingWriter(destination.open("wb"))
    compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL, threads=-1, write_checksum=True)
    with (
        compressor.stream_writer(cast(IO[bytes], hasher), closefd=False) as stream,
        tarfile.open(fileobj=stream, mode="w|", format=tarfile.PAX_FORMAT) as tar,
    ):
        body = (manifest.model_dump_json(indent=2) + "\n").encode()
        tar.addfile(_tar_info("manifest.json", len(body), 0o644, mtime), io.BytesIO(body))
        for name, path in entries:
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            with path.open("rb") as handle:
                tar.addfile(_tar_info(name, path.stat().st_size, mode, mtime), handle)
    hasher.close()
    return f"sha256:{hasher.sha256.hexdigest()}", hasher.size


def upload(account: AccountSession, bucket: str, app: Application, archive: BuiltArchive) -> Package:
    """Put the archive and its manifest in S3 under the digest, unless they are there already."""
    hex_digest = archive.digest.removeprefix("sha256:")
    key = f"packages/{app.name}/{hex_digest}.tar.zst"
    uploaded = not s3.object_exists(account, bucket, key)
    if uploaded:
        metadata = {"commit": archive.manifest.commit, "version": archive.manifest.version, "digest": archive.digest}
        s3.upload_file(account, archive.path, bucket, key, "application/zstd", metadata)
        manifest_body = archive.manifest.model_dump_json(indent=2).encode()
        s3.put_object(
            account, bucket, f"packages/{app.name}/{hex_digest}.manifest.json", manifest_body, "application/json"
        )
    package = Package(
        digest=archive.digest, size=archive.size, bucket=bucket, key=key, manifest=archive.manifest, uploaded=uploaded
    )
    s3.put_object(
        account,
        bucket,
        index_key(app, archive.manifest.commit),
        package.model_dump_json().encode(),
        "application/json",
    )
    return package


def download(account: AccountSession, package: Package, destination: Path) -> Path:
    """Fetch and unpack a package into ``destination``, checking its digest; the folder."""
    destination.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        archive = Path(scratch) / "package.tar.zst"
        s3.download_file(account, package.bucket, package.key, archive)
        actual = "sha256:" + _sha256_file(archive)
        if actual != package.digest:
            raise PackagingError(
                f"package {package.uri} has digest {actual}, not {package.digest}; it was changed in S3: "
                "delete it and build the package again"
            )
        unpack(archive, destination)
    return destination


def unpack(archive: Path, destination: Path) -> None:
    with archive.open("rb") as raw:
        reader = zstandard.ZstdDecompressor().stream_reader(raw)
        with tarfile.open(fileobj=reader, mode="r|") as tar:
            safe_tar.extract_all(tar, destination)


def _check_source(app: Application, source: Path) -> None:
    problems = [
        f"Dockerfile {path!r} of image {name!r}"
        for name, path in sorted(app.dockerfiles.items())
        if not (source / path).is_file()
    ]
    problems += [f"folder {name!r}" for name in app.include if not (source / name).is_dir()]
    if app.authorities is not None and not (source / app.authorities).is_dir():
        problems.append(f"authorities folder {app.authorities!r}")
    if problems:
        raise PackagingError(
            f"the source at {app.subdirectory or '/'} lacks {', '.join(problems)}; add them to the repository "
            "or fix the application's settings in cloudops.toml"
        )
    datapop.discover(source / app.datasets, app.datasets)


def _run_build(app: Application, source: Path, revision: SourceRevision, version: str, log: Log) -> None:
    env = {
        **os.environ,
        "SOURCE_DATE_EPOCH": str(revision.commit_time),
        "CLOUDOPS_COMMIT": revision.commit,
        "CLOUDOPS_VERSION": version,
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    log(f"$ {app.build_command}  (in {source})")
    process = subprocess.Popen(
        app.build_command,
        shell=True,
        cwd=source,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    tail: list[str] = []
    for line in process.stdout:
        log(line.rstrip())
        tail = (tail + [line.rstrip()])[-20:]
    if process.wait() != 0:
        raise PackagingError(
            f"the build command {app.build_command!r} failed with exit code {process.returncode}; its output ends:\n"
            + "\n".join(tail)
        )
    if not (source / app.build_output).is_dir():
        raise PackagingError(
            f"the build command did not write {app.build_output!r}; make it write there or set build_output"
        )


def _package_entries(app: Application, source: Path) -> list[tuple[str, Path]]:
    """(name in the archive, file) for every file, sorted: the build output as app/, then the rest."""
    roots = [("app", source / app.build_output), ("datasets", source / app.datasets)]
    roots += [(name, source / name) for name in app.include]
    if app.authorities is not None:
        roots.append((AUTHORITIES_PREFIX.rstrip("/"), source / app.authorities))
    entries = []
    for prefix, root in roots:
        for path in _walk_files(root):
            entries.append((f"{prefix}/{path.relative_to(root).as_posix()}", path))
    return sorted(entries)


def _walk_files(root: Path) -> Iterator[Path]:
    for directory, folders, files in os.walk(root):
        folders.sort()
        for name in sorted(files):
            path = Path(directory) / name
            if path.is_file() and not path.is_symlink():
                yield path


def _tar_info(name: str, size: int, mode: int, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = mode
    info.mtime = mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _tool_versions() -> dict[str, str]:
    git = subprocess.run(["git", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    return {
        "python": platform.python_version(),
        "git": git.removeprefix("git version "),
        "zstd": ".".join(map(str, zstandard.ZSTD_VERSION)),
        "format": FORMAT,
    }


class _HashingWriter(io.RawIOBase):
    """A file that hashes and counts what is written through it."""

    def __init__(self, target: IO[bytes]) -> None:
        self.target = target
        self.sha256 = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self.sha256.update(view)
        self.size += len(view)
        self.target.write(view)
        return len(view)

    def close(self) -> None:
        if not self.closed:
            self.target.close()
        super().close()
