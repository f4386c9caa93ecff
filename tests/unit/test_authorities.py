"""The authorities' digest and when a deploy fills the access point (pure; the fill itself:
tests/integration/test_deploy.py)."""

from __future__ import annotations

from cloudops.authorities import FillRecord, digest, manifest_key, needs_fill
from cloudops.aws.ecs import TaskResult
from tests.release_records import sample_release

FILES = {
    "app/server.py": "a" * 64,
    "authorities/countries.csv": "b" * 64,
    "authorities/sub/currencies.csv": "c" * 64,
    "docker/app/Dockerfile": "d" * 64,
}


def test_the_digest_covers_the_authorities_files_only_and_their_names() -> None:
    found = digest(FILES)
    assert found is not None and found.startswith("sha256:") and len(found) == 71
    assert digest({**FILES, "app/server.py": "e" * 64}) == found  # another app file: the same authorities
    assert digest(dict(reversed(FILES.items()))) == found  # order of the manifest does not count
    assert digest({**FILES, "authorities/countries.csv": "e" * 64}) != found  # a file's content
    renamed = {k.replace("countries", "nations"): v for k, v in FILES.items()}
    assert digest(renamed) != found  # a file's name
    assert digest({**FILES, "authorities/new.csv": "f" * 64}) != found  # a new file
    assert digest({"app/server.py": "a" * 64, "authoritiesX/a": "b" * 64}) is None  # no authorities/ folder


def test_a_fill_runs_when_never_filled_changed_or_on_a_new_access_point_only() -> None:
    record = FillRecord(digest="sha256:1", access_point="fsap-1", task="arn:task/1")
    assert needs_fill(None, "sha256:1", "fsap-1") == "never filled"
    assert needs_fill(record, "sha256:1", "fsap-1") is None
    assert needs_fill(record, "sha256:2", "fsap-1") == "the authorities changed (sha256:1 -> sha256:2)"
    assert needs_fill(record, "sha256:1", "fsap-2") == "access point fsap-2 is new (it was fsap-1)"


def test_the_manifest_is_read_beside_the_package() -> None:
    release = sample_release().model_copy(update={"package_uri": "s3://cloudops-build/packages/commerce/ab12.tar.zst"})
    assert manifest_key(release) == "packages/commerce/ab12.manifest.json"


def test_a_task_succeeded_only_when_stopped_with_every_exit_code_zero() -> None:
    assert TaskResult(arn="t", last_status="STOPPED", exit_codes={"fill": 0}).succeeded
    assert not TaskResult(arn="t", last_status="STOPPED", exit_codes={"fill": 1}).succeeded
    assert not TaskResult(arn="t", last_status="STOPPED", exit_codes={"fill": None}).succeeded
    assert not TaskResult(arn="t", last_status="RUNNING", exit_codes={"fill": 0}).succeeded
    assert not TaskResult(arn="t", last_status="STOPPED").succeeded
