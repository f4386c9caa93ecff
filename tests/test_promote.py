"""promote: images by digest into the next stage, gated by the previous stage's recorded approval."""

from __future__ import annotations

import pytest

from cloudops import audit
from cloudops.aws import rds
from cloudops.promotion import PromotionRefusedError, release_digests
from cloudops.registry import RegistryClient
from cloudops.release import Release
from cloudops.sandbox.sandbox import Sandbox
from tests.conftest import ReleaseSource

pytestmark = pytest.mark.slow


def registry(sandbox: Sandbox, stage: str) -> RegistryClient:
    state = sandbox.state.registries[stage]
    return RegistryClient(state.login())


def approve(
    sandbox: Sandbox, release: Release, stage: str, digests: dict[str, str], decision: str = "approved"
) -> None:
    audit.record(
        sandbox.account("build"),
        "cloudops-build-111111111111",
        audit.AuditEntry(
            kind="approval",
            application=release.application,
            version=release.version,
            stage=stage,
            actor="qa.lead@example.com",
            digests=digests,
            decision=decision,
            ticket="QA-42",
        ),
    )


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
    trail = audit.entries(sandbox.account("build"), "cloudops-build-111111111111", "commerce", release.version)
    assert trail[-1] == entry and entry.kind == "promotion" and entry.detail["from"] == "build"

    again = promote(version=release.version, to_stage="qa")  # nothing to copy the second time
    assert again.digests == entry.digests


def test_staging_needs_the_approval_of_qa_for_exactly_these_digests(
    sandbox: Sandbox, release_env: ReleaseSource, release: Release
) -> None:
    from flows.promote import promote

    digests = release_digests(release)
    with pytest.raises(PromotionRefusedError, match="qa has no approval for it; it must be approved in qa first"):
        promote(version=release.version, to_stage="staging")
    approve(sandbox, release, "qa", {**digests, "app": "sha256:" + "9" * 64})
    with pytest.raises(PromotionRefusedError, match=r"the approval in qa was for other digests \(app\)"):
        promote(version=release.version, to_stage="staging")

    approve(sandbox, release, "qa", digests, decision="rejected")
    with pytest.raises(PromotionRefusedError, match="its last decision is 'rejected'"):
        promote(version=release.version, to_stage="staging")

    approve(sandbox, release, "qa", digests)
    entry = promote(version=release.version, to_stage="staging")
    assert entry.detail["approved_by"] == "qa.lead@example.com"
    with registry(sandbox, "staging") as staging:
        assert staging.manifest_digest("mysql", digests["mysql"]) == digests["mysql"]


def test_the_build_stage_receives_nothing(sandbox: Sandbox, release_env: ReleaseSource, release: Release) -> None:
    from flows.promote import promote

    with pytest.raises(
        PromotionRefusedError, match="stage 'build' is the build stage: it builds images and receives none"
    ):
        promote(version=release.version, to_stage="build")
