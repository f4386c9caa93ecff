"""The deployment package: reproducible, uploaded once, and clear about bad input."""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path

import pytest
import zstandard

from cloudops import packaging
from cloudops.aws import s3
from cloudops.errors import DataSetError, PackagingError
from cloudops.settings import Application, Settings
from sandbox.sandbox import Sandbox
from tests.app_source import git


def app_of(settings: Settings) -> Application:
    assert settings.application is not None
    return settings.application


def test_the_same_commit_gives_the_same_bytes(app_config: Settings, app_repo: Path, tmp_path: Path) -> None:
    app = app_of(app_config)
    first = packaging.build_archive(app, app_repo, "main", tmp_path / "one")
    second = packaging.build_archive(app, app_repo, git(app_repo, "rev-parse", "HEAD"), tmp_path / "two")
    assert first.digest == second.digest
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.digest == "sha256:" + hashlib.sha256(first.path.read_bytes()).hexdigest()

    # The archive: manifest first, sorted entries, fixed times and owners, checksums that match
    with (
        first.path.open("rb") as raw,
        tarfile.open(fileobj=zstandard.ZstdDecompressor().stream_reader(raw), mode="r|") as tar,
    ):
        members = []
        for member in tar:
            members.append(member)
            if member.name != "manifest.json":
                data = tar.extractfile(member).read()  # type: ignore[union-attr]
                assert first.manifest.files[member.name] == hashlib.sha256(data).hexdigest()
    assert members[0].name == "manifest.json"
    names = [m.name for m in members[1:]]
    assert names == sorted(names)
    assert {
        "app/server.py",
        "app/BUILD-INFO.json",
        "docker/app/Dockerfile",
        "datasets/common/V0001__schema.sql",
    } <= set(names)
    assert {(m.mtime, m.uid, m.gid, m.uname) for m in members} == {(1767323045, 0, 0, "")}
    manifest = first.manifest
    assert manifest.commit == git(app_repo, "rev-parse", "HEAD")
    assert manifest.version == f"2026.01.02-030405-g{manifest.commit[:8]}"
    assert manifest.build_command == "python3 build.py"
    assert set(manifest.datasets) == {
        "V0001__common__schema",
        "V0002__common__reference_data",
        "V0003__author__author_content",
        "V0004__live__live_settings",
    }
    assert {"python", "git", "zstd"} <= set(manifest.tools)


def test_a_new_commit_gives_a_new_package(app_config: Settings, app_repo: Path, tmp_path: Path) -> None:
    app = app_of(app_config)
    before = packaging.build_archive(app, app_repo, "main", tmp_path / "one")
    (app_repo / "app" / "server.py").write_text((app_repo / "app" / "server.py").read_text() + "\n# changed\n")
    git(app_repo, "commit", "-qam", "change")
    after = packaging.build_archive(app, app_repo, "main", tmp_path / "two")
    assert after.digest != before.digest
    assert after.manifest.files["app/server.py"] != before.manifest.files["app/server.py"]
    assert (
        after.manifest.files["datasets/common/V0001__schema.sql"]
        == before.manifest.files["datasets/common/V0001__schema.sql"]
    )


def test_upload_once_then_find_it(sandbox: Sandbox, app_config: Settings, app_repo: Path, tmp_path: Path) -> None:
    app = app_of(app_config)
    account = sandbox.account("build")
    bucket = app_config.stage("build").bucket
    archive = packaging.build_archive(app, app_repo, "main", tmp_path / "w")
    commit = archive.manifest.commit

    first = packaging.upload(account, bucket, app, archive)
    again = packaging.upload(account, bucket, app, archive)
    assert again.uploaded is False
    assert first.key == again.key == f"packages/commerce/{archive.digest.removeprefix('sha256:')}.tar.zst"
    head = account.client("s3").head_object(Bucket=bucket, Key=first.key)
    assert head["Metadata"] == {"commit": commit, "version": archive.manifest.version, "digest": archive.digest}
    found = packaging.find_existing(account, bucket, app, commit)
    assert found is not None and found.digest == archive.digest and found.uploaded is False

    unpacked = packaging.download(account, found, tmp_path / "unpacked")
    assert (unpacked / "app" / "server.py").read_bytes() == (app_repo / "app" / "server.py").read_bytes()


@pytest.mark.reliability(
    "input", "a git ref that does not exist", "refused naming the ref and the repository; nothing written"
)
def test_a_ref_that_does_not_exist(app_config: Settings, app_repo: Path, tmp_path: Path) -> None:
    with pytest.raises(PackagingError, match="ref 'no-such-branch' does not exist in"):
        packaging.build_archive(app_of(app_config), app_repo, "no-such-branch", tmp_path / "w")
    assert not (tmp_path / "w").exists()


@pytest.mark.reliability(
    "input",
    "an application without the Dockerfile cloudops.toml names",
    "refused naming it; the build command never runs",
)
def test_a_repository_without_the_configured_dockerfile(app_config: Settings, app_repo: Path, tmp_path: Path) -> None:
    git(app_repo, "rm", "-q", "docker/broker/Dockerfile")
    git(app_repo, "commit", "-qm", "no broker")
    with pytest.raises(PackagingError, match="lacks Dockerfile 'docker/broker/Dockerfile' of image 'broker'"):
        packaging.build_archive(app_of(app_config), app_repo, "main", tmp_path / "w")
    assert not (tmp_path / "w" / "source" / "dist").exists()  # the build command never ran


def test_a_failing_build_command_shows_its_output(app_config: Settings, app_repo: Path, tmp_path: Path) -> None:
    app = app_of(app_config).model_copy(
        update={"build_command": "echo compiling; echo 'error: no compiler' >&2; exit 3"}
    )
    with pytest.raises(
        PackagingError, match=r"failed with exit code 3; its output ends:\ncompiling\nerror: no compiler"
    ):
        packaging.build_archive(app, app_repo, "main", tmp_path / "w")


@pytest.mark.reliability(
    "input", "an application whose data sets have a gap", "packaging refuses it naming the missing version"
)
def test_a_data_set_folder_with_a_gap(app_config: Settings, app_repo: Path, tmp_path: Path) -> None:
    git(app_repo, "mv", "datasets/live/V0004__live_settings.sql", "datasets/live/V0005__live_settings.sql")
    git(app_repo, "commit", "-qm", "gap")
    with pytest.raises(DataSetError, match="have a gap: no data set has version 4"):
        packaging.build_archive(app_of(app_config), app_repo, "main", tmp_path / "w")


def test_the_package_flow_builds_once_then_says_it_exists(
    sandbox: Sandbox, stage_blocks: dict[str, str], app_config: Settings, app_repo: Path
) -> None:
    from flows.package import package

    (app_repo / "README.md").write_text("flow test\n")  # a commit no other test packaged
    git(app_repo, "add", "README.md")
    git(app_repo, "commit", "-qm", "flow test")
    account = sandbox.account("build")
    bucket = app_config.stage("build").bucket
    before = set(s3.list_keys(account, bucket, "packages/"))

    first = package(ref="main")
    assert first.uploaded is True
    added = set(s3.list_keys(account, bucket, "packages/")) - before
    assert len(added) == 3  # the archive, its manifest, the index by build inputs

    second = package(ref="main")
    assert second.uploaded is False and second.digest == first.digest
    assert set(s3.list_keys(account, bucket, "packages/")) - before == added


@pytest.mark.reliability(
    "fault", "a package deleted from the build bucket behind the task cache", "built and uploaded again"
)
def test_a_package_deleted_from_s3_is_built_again_despite_the_cache(
    sandbox: Sandbox, stage_blocks: dict[str, str], app_config: Settings, app_repo: Path
) -> None:
    from flows.package import package

    (app_repo / "README.md").write_text("deleted later\n")
    git(app_repo, "add", "README.md")
    git(app_repo, "commit", "-qm", "to be deleted")
    account = sandbox.account("build")
    bucket = app_config.stage("build").bucket
    first = package(ref="main")
    # Given the bucket lost the package (a lifecycle rule, a person) while Prefect's cache remembers it
    index = packaging.index_key(app_of(app_config), first.manifest.commit)
    for key in (first.key, first.key.replace(".tar.zst", ".manifest.json"), index):
        account.client("s3").delete_object(Bucket=bucket, Key=key)
    assert not s3.object_exists(account, bucket, first.key)
    # When the flow runs again, then it builds and uploads it again
    again = package(ref="main")
    assert again.uploaded is True and again.digest == first.digest
    assert s3.object_exists(account, bucket, first.key)
