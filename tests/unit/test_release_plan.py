"""The release plan: the stages on the way, when an approval is reused, and the closing summary."""

from __future__ import annotations

import pytest

from cloudops.audit import ApprovalEntry, Decision, PromotionEntry
from cloudops.errors import CloudOpsError, UnknownStageError
from cloudops.images import BuiltImage
from cloudops.release import Release
from cloudops.release_plan import (
    StageOutcome,
    failed_outcome,
    stages_to,
    summary_markdown,
)
from cloudops.settings import Settings
from cloudops.snapshots import SnapshotRecord
from cloudops.trail import Trail

DIGESTS = {"app": "sha256:" + "a" * 64, "broker": "sha256:" + "b" * 64}


def decision(stage: str, decision: Decision, digests: dict[str, str] = DIGESTS, version: str = "1.0") -> ApprovalEntry:
    return ApprovalEntry(
        application="commerce",
        version=version,
        stage=stage,
        actor="qa.lead",
        digests=digests,
        decision=decision,
    )


def test_the_stages_on_the_way_follow_promotes_from(settings: Settings) -> None:
    assert stages_to(settings, "prod") == ["qa", "staging", "prod"]
    assert stages_to(settings, "staging") == ["qa", "staging"]
    assert stages_to(settings, "qa") == ["qa"]


def test_a_release_to_the_build_stage_or_an_unknown_stage_is_refused(settings: Settings) -> None:
    with pytest.raises(CloudOpsError, match="'build' is the build stage; release to one of qa, staging, prod"):
        stages_to(settings, "build")
    with pytest.raises(UnknownStageError, match="unknown stage 'production'; use one of build, prod, qa, staging"):
        stages_to(settings, "production")


def test_only_the_last_decision_for_exactly_these_digests_is_reused() -> None:
    approved = decision("qa", "approved")
    assert Trail([approved]).reusable_approval("1.0", "qa", DIGESTS) == approved
    assert Trail([approved]).reusable_approval("1.0", "staging", DIGESTS) is None
    assert Trail([approved]).reusable_approval("1.1", "qa", DIGESTS) is None
    assert Trail([approved, decision("qa", "rejected")]).reusable_approval("1.0", "qa", DIGESTS) is None
    other = decision("qa", "approved", {**DIGESTS, "app": "sha256:" + "c" * 64})
    assert Trail([other]).reusable_approval("1.0", "qa", DIGESTS) is None


def test_a_promotion_of_exactly_these_digests_into_the_stage_is_found() -> None:
    def promoted(stage: str, digests: dict[str, str] = DIGESTS, version: str = "1.0") -> PromotionEntry:
        return PromotionEntry(
            application="commerce",
            version=version,
            stage=stage,
            actor="flow-run:1",
            digests=digests,
            from_stage="build",
            approved_by="(from the build stage)",
        )

    first, second = promoted("qa"), promoted("qa")
    assert Trail([first, promoted("staging"), second]).promotion_of("1.0", "qa", DIGESTS) == second
    assert Trail([first]).promotion_of("1.0", "staging", DIGESTS) is None
    assert Trail([first]).promotion_of("1.1", "qa", DIGESTS) is None
    assert Trail([decision("qa", "approved")]).promotion_of("1.0", "qa", DIGESTS) is None  # an approval is no copy
    assert Trail([promoted("qa", {**DIGESTS, "app": "sha256:" + "c" * 64})]).promotion_of("1.0", "qa", DIGESTS) is None


def test_the_summary_shows_each_stage_and_why_it_stopped() -> None:
    release = Release(
        application="commerce",
        version="1.0",
        commit="c" * 40,
        ref="main",
        package_digest="sha256:" + "0" * 64,
        package_uri="s3://build/packages/commerce/0.tar.zst",
        images={"app": BuiltImage(name="app", registry="r", digest="sha256:" + "1" * 64, inputs="i", rebuilt=False)},
        snapshots={
            "author": SnapshotRecord(
                environment="author",
                identifier="commerce-author-1-0",
                arn="arn",
                shared_with=("222222222222",),
                created=False,
            )
        },
        datasets={},
    )
    qa = StageOutcome(
        stage="qa",
        promoted=True,
        blobs_copied=3,
        deployed="author-live",
        stacks_changed=("commerce-qa-author",),
        endpoints={"commerce-qa-author": "http://qa"},
        verification="verified: 10 checks passed",
        decision="rejected",
        approver="carol",
    )
    markdown = summary_markdown(release, [qa], stopped="rejected in qa by carol")
    assert (
        "| qa | 3 blob(s) copied | author-live | commerce-qa-author | verified: 10 checks passed | rejected by carol "
        "| http://qa |" in markdown
    )
    failed = failed_outcome("qa", "author-live", "smoke live: /products | 503; rolled back to 0.9")
    assert "| **failed**: smoke live: /products \\| 503; rolled back to 0.9 | - |" in summary_markdown(
        release, [failed]
    )
    assert "**Stopped**: rejected in qa by carol" in markdown
    assert "| app | `sha256:" + "1" * 64 + "` |" in markdown
    assert "| author | `commerce-author-1-0` |" in markdown
