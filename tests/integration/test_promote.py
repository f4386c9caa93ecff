"""promote: images by digest into the next stage, gated by the previous stage's recorded approval."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar
from uuid import UUID

import httpx
import pytest
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL

from cloudops import audit
from cloudops.aws import rds, s3
from cloudops.gates.promotion import PromotionRefusedError
from cloudops.image_copy import copy_image
from cloudops.promotion import release_digests
from cloudops.registry import RegistryClient
from cloudops.release import Release, release_key
from cloudops.stage_slots import limit_name
from sandbox.sandbox import Sandbox
from tests.app_source import ReleaseSource
from tests.ops_helpers import OpsApp, approve, verified
from tests.polling import eventually

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow
BUILD_BUCKET = "cloudops-build-111111111111"


def settled(read: Callable[[], T], pause: float = 1.0, readings: int = 30) -> T:
    """``read()`` once two readings ``pause`` seconds apart agree."""
    last = read()
    for _ in range(readings):
        time.sleep(pause)
        now = read()
        if now == last:
            return now
        last = now
    raise AssertionError(f"still changing after {readings} readings: {last}")


def registry(sandbox: Sandbox, stage: str) -> RegistryClient:
    state = sandbox.state.registries[stage]
    return RegistryClient(state.login())


def test_promotion_to_qa_copies_the_images_by_digest_and_is_recorded(
    sandbox: Sandbox, release_env: ReleaseSource, release: Release
) -> None:
    from flows.promote import promote

    entry = promote(version=release.version, to_stage="qa")
    with registry(sandbox, "qa") as qa:
        for name, digest in release_digests(release).items():
            assert qa.manifest_digest(name, digest) == digest
            assert qa.manifest_digest(name, release.version) == digest
            assert qa.manifest_digest(name, release.commit) == digest
    for snapshot in release.snapshots.values():
        assert "222222222222" in rds.shared_with(sandbox.account("build"), snapshot.identifier)
    trail = audit.entries(sandbox.account("build"), BUILD_BUCKET, "commerce", release.version)
    assert trail[-1] == entry and entry.kind == "promotion" and entry.from_stage == "build"

    again = promote(version=release.version, to_stage="qa")  # nothing to copy the second time
    assert again.digests == entry.digests


@pytest.mark.reliability(
    "input",
    "a promotion without the previous stage's approval, or with one for other digests",
    "refused naming the missing approval or the digests that differ",
)
def test_staging_needs_the_approval_of_qa_for_exactly_these_digests(
    sandbox: Sandbox, release_env: ReleaseSource, release: Release
) -> None:
    from flows.promote import promote

    # A version of its own, so that approvals other tests recorded for the session's release do not count.
    release = release.model_copy(update={"version": f"{release.version}-gate-{uuid.uuid4().hex[:6]}"})
    record = release.model_dump_json().encode()
    key = release_key(release.application, release.version)
    s3.put_object(sandbox.account("build"), BUILD_BUCKET, key, record, "application/json")
    digests = release_digests(release)
    # QA holds the images staging copies from, whichever test ran before (from build no approval is needed)
    promote(version=release.version, to_stage="qa")
    with pytest.raises(PromotionRefusedError, match="qa has no approval for it; it must be approved in qa first"):
        promote(version=release.version, to_stage="staging")
    approve(sandbox, release, "qa", {**digests, "app": "sha256:" + "9" * 64})
    with pytest.raises(PromotionRefusedError, match=r"the approval in qa was for other digests \(app\)"):
        promote(version=release.version, to_stage="staging")

    approve(sandbox, release, "qa", digests, decision="rejected")
    with pytest.raises(PromotionRefusedError, match="its last decision is 'rejected'"):
        promote(version=release.version, to_stage="staging")

    # approved, but not verified in qa (or verified for other digests, or its last verification failed)
    approve(sandbox, release, "qa", digests)
    with pytest.raises(PromotionRefusedError, match=r"no deploy of it in qa was verified; deploy it there"):
        promote(version=release.version, to_stage="staging")
    verified(sandbox, release, "qa", digests={"app": "sha256:" + "9" * 64, "broker": digests["broker"]})
    with pytest.raises(PromotionRefusedError, match=r"verification in qa \(author-live\) was of other digests \(app\)"):
        promote(version=release.version, to_stage="staging")
    verified(sandbox, release, "qa", passed=False)
    with pytest.raises(PromotionRefusedError, match=r"last verification in qa \(author-live\) failed: verification fa"):
        promote(version=release.version, to_stage="staging")

    verified(sandbox, release, "qa")
    entry = promote(version=release.version, to_stage="staging")
    assert entry.approved_by == "qa.lead@example.com"
    with registry(sandbox, "staging") as staging:
        assert staging.manifest_digest("mysql", digests["mysql"]) == digests["mysql"]


def test_the_build_stage_receives_nothing(sandbox: Sandbox, release_env: ReleaseSource, release: Release) -> None:
    from flows.promote import promote

    with pytest.raises(
        PromotionRefusedError, match="stage 'build' is the build stage: it builds images and receives none"
    ):
        promote(version=release.version, to_stage="build")


def blobs_of(sandbox: Sandbox, release: Release) -> dict[str, list[str]]:
    """Each promoted image's blobs (config and layers), read from the build registry."""
    found: dict[str, list[str]] = {}
    with registry(sandbox, "build") as build:
        for name, digest in release_digests(release).items():
            manifest = json.loads(build.manifest(name, digest)[0])
            assert "layers" in manifest, f"{name} is not a single-platform image"
            layers = [layer["digest"] for layer in manifest["layers"]]
            found[name] = list(dict.fromkeys([manifest["config"]["digest"], *layers]))
    return found


def landed(client: RegistryClient, repository: str, digest: str) -> bool:
    """Whether the blob is there yet. docker-registry answers 500 ("invalid checksum digest format") to a HEAD
    that reads the blob's link while the promotion writes it (seen once, polling every 5 ms): not there yet."""
    try:
        return client.blob_exists(repository, digest)
    except httpx.HTTPStatusError as error:
        if error.response.status_code < 500:
            raise
        return False


def in_repositories_of_its_own(sandbox: Sandbox, release: Release) -> Release:
    """A copy of ``release`` with a version of its own, whose images are in build repositories of their own
    (mounted from the built ones, so nothing is built again): no stage has them, whatever was promoted before."""
    suffix = uuid.uuid4().hex[:6]
    own = {name: f"{name}-{suffix}" for name in release_digests(release)}
    with registry(sandbox, "build") as reader, registry(sandbox, "build") as writer:
        for name, repository in own.items():
            copy_image(reader, name, writer, repository, release.images[name].digest)
    images = {
        own.get(name, name): image.model_copy(update={"name": own.get(name, name)})
        for name, image in release.images.items()
    }
    copy = release.model_copy(update={"version": f"{release.version}-{suffix}", "images": images})
    key = release_key(copy.application, copy.version)
    s3.put_object(sandbox.account("build"), BUILD_BUCKET, key, copy.model_dump_json().encode(), "application/json")
    return copy


@pytest.mark.reliability(
    "fault", "a promotion cut off half way through its copies", "its rerun copies only the blobs that were missing"
)
def test_a_promotion_killed_half_way_finishes_on_rerun_copying_only_what_was_missing(
    sandbox: Sandbox, release_env: ReleaseSource, release: Release
) -> None:
    from flows.promote import promote

    release = in_repositories_of_its_own(sandbox, release)
    digests = release_digests(release)
    # Given the release in staging, approved there, and not yet in prod
    promote(version=release.version, to_stage="qa")
    verified(sandbox, release, "qa")
    approve(sandbox, release, "qa", digests)
    promote(version=release.version, to_stage="staging")
    verified(sandbox, release, "staging")
    approve(sandbox, release, "staging", digests)
    blobs = blobs_of(sandbox, release)
    with registry(sandbox, "prod") as prod:
        assert not any(prod.manifest_digest(name, digest) for name, digest in digests.items())

        # When a promotion into prod is killed (SIGKILL: no handler, no retry runs) once a blob has landed
        env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
        code = "import sys; from flows.promote import promote; promote(version=sys.argv[1], to_stage='prod')"
        process = subprocess.Popen([sys.executable, "-c", code, release.version], env=env, cwd=REPO)
        try:
            deadline = time.monotonic() + 120
            while not any(landed(prod, name, blobs[name][0]) for name in blobs):  # configs land first
                assert process.poll() is None, "the promotion ended before it could be killed"
                assert time.monotonic() < deadline, "no blob reached prod"
                time.sleep(0.005)
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            # A request the run had sent in full may still be committed by the registry after the kill:
            # what is missing is read until two readings a second apart agree.
            missing = settled(
                lambda: {name: [b for b in blobs[name] if not prod.blob_exists(name, b)] for name in blobs}
            )
            complete = [name for name, digest in digests.items() if prod.manifest_digest(name, digest)]
        finally:
            process.kill()
            process.wait()
        assert len(complete) < len(digests), "the promotion was not cut off half way (every image was there)"
        assert sum(map(len, missing.values())) < sum(map(len, blobs.values()))
    trail = audit.entries(sandbox.account("build"), BUILD_BUCKET, "commerce", release.version)
    assert not [e for e in trail if e.kind == "promotion" and e.stage == "prod"]
    # NOTE: the dead run's slot lease lapses after 60 s and `prefect server start`'s repossessor service frees
    # it; the test harness's server does not run that service, so the test frees the slot itself.
    with get_client(sync_client=True) as client:
        client.delete_global_concurrency_limit_by_name(limit_name("prod"))

    # Then a rerun finishes it with the right digests, copying exactly what the killed run had not
    entry = promote(version=release.version, to_stage="prod")
    assert entry.digests == digests
    with registry(sandbox, "prod") as prod:
        for name, digest in digests.items():
            assert prod.manifest_digest(name, digest) == digest
            assert prod.manifest_digest(name, release.version) == digest
    assert entry.blobs_copied == {n: len(missing[n]) for n in missing}
    assert entry.blobs_present == {n: len(blobs[n]) - len(missing[n]) for n in blobs}


def test_the_copies_into_a_registry_stay_within_the_configured_limit(
    sandbox: Sandbox, app: OpsApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    from flows.promote import promote

    # Given [limits] registry_copies = 1
    monkeypatch.setenv("CLOUDOPS_LIMITS__REGISTRY_COPIES", "1")
    release = app.releases[0]
    # When a release of several images is promoted, then each copy holds the registry's one slot in turn
    entry = promote(version=release.version, to_stage="qa")
    assert entry.flow_run_id is not None
    names = sorted(release_digests(release))

    def held() -> list[tuple[datetime, str, str]] | None:
        with get_client(sync_client=True) as client:
            logs = client.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[UUID(entry.flow_run_id)]))
            )
        marks = [
            (log.timestamp, "taken" if "a slot of" in log.message else "done", log.message.split(":")[0].split("@")[0])
            for log in logs
            if "a slot of cloudops-registry-qa" in log.message or "manifest(s) written" in log.message
        ]
        return sorted(marks) if len(marks) == 2 * len(names) else None

    marks = eventually("a slot taken and given back by each copy", held)
    assert sorted(name for _, what, name in marks if what == "taken") == names
    # taken, done, taken, done ...: never two copies holding a slot at once
    assert [what for _, what, _ in marks] == ["taken", "done"] * len(names)
    assert [name for _, _, name in marks][0::2] == [name for _, _, name in marks][1::2]
    with get_client(sync_client=True) as client:
        assert client.read_global_concurrency_limit_by_name("cloudops-registry-qa").limit == 1
