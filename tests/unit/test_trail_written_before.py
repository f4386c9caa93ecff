"""A trail written before the entries were typed (each kind's record in a string map ``detail``) reads as the same
trail written today: the files in trail_written_2026_12_07/ are entries of every kind exactly as the code of
2026-12-07 wrote them into the build bucket."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

from cloudops import audit
from cloudops.trail import Trail

WRITTEN = Path(__file__).resolve().parent / "trail_written_2026_12_07"


def read(name: str) -> audit.AuditEntry:
    (path,) = WRITTEN.glob(f"*-{name}.json")
    return audit.ENTRY.validate_json(path.read_bytes())


def test_every_kind_written_on_2026_12_07_reads_into_its_typed_entry_numbers_as_numbers_maps_as_maps() -> None:
    release = read("release")
    assert isinstance(release, audit.ReleaseEntry)
    # the record it vouched for was b'{"a record": 1}'
    assert (release.record_sha256, release.commit) == (hashlib.sha256(b'{"a record": 1}').hexdigest(), "1a2b3c4d" * 5)

    promotion = read("promotion")
    assert isinstance(promotion, audit.PromotionEntry)
    assert (promotion.from_stage, promotion.approved_by) == ("build", "(from the build stage)")
    assert promotion.snapshots == ("commerce-author-2026-12-07-1015", "commerce-live-2026-12-07-1015")
    assert promotion.blobs_copied == {"app": 3, "broker": 0, "mysql": 0} and promotion.blobs_copied_total == 3
    assert promotion.blobs_present == {"app": 0, "broker": 1, "mysql": 1}

    deploy = read("deploy")
    assert isinstance(deploy, audit.DeployEntry)
    assert deploy.deploy_kind == "author-live"
    assert deploy.stacks == {"commerce-qa-author": True, "commerce-qa-live": False}
    assert deploy.snapshots == ("commerce-author-2026-12-07-1015", "commerce-live-2026-12-07-1015")

    verification = read("verification")
    assert isinstance(verification, audit.VerificationEntry)
    assert (verification.deploy_kind, verification.outcome, verification.passed) == (
        "author-live",
        "verification-failed",
        False,
    )
    assert verification.started_at == datetime(2026, 12, 7, 10, 20, tzinfo=UTC)
    assert [(c.name, c.passed) for c in verification.checks] == [
        ("commerce-qa-author: services steady", True),
        ("author: GET /health", False),
    ]

    approval = read("approval")
    assert isinstance(approval, audit.ApprovalEntry)
    assert (approval.decision, approval.actor, approval.ticket, approval.comment) == (
        "approved",
        "bob",
        "CHG-42",
        "looks good",
    )
    assert approval.identity == "arn:aws:iam::222222222222:user/bob"

    rollback = read("rollback")
    assert isinstance(rollback, audit.RollbackEntry)
    assert (rollback.deploy_kind, rollback.rolled_back_from) == ("author-live", "2026.12.07-111500-g9f8e7d6c")
    assert rollback.from_digests == {"app": "sha256:" + "d" * 64, "broker": "sha256:" + "b" * 64}
    assert rollback.stacks == {"commerce-qa-author": True, "commerce-qa-live": True}

    teardown = read("teardown")
    assert isinstance(teardown, audit.TeardownEntry)
    assert (teardown.deploy_kind, teardown.stacks) == ("author-live", ("commerce-qa-author", "commerce-qa-live"))


def test_an_entry_written_before_reads_the_same_as_the_entry_written_today() -> None:
    for path in sorted(WRITTEN.glob("*.json")):
        before = audit.ENTRY.validate_json(path.read_bytes())
        today = audit.ENTRY.validate_json(before.model_dump_json())
        assert today == before, path.name
        assert "detail" not in before.model_dump(), path.name  # written today: typed fields, no string map


def test_the_gates_decide_on_a_trail_written_before_as_on_one_written_today() -> None:
    trail = Trail(audit.ENTRY.validate_json(path.read_bytes()) for path in sorted(WRITTEN.glob("*.json")))
    version = trail[0].version
    assert trail.approval_of(version, "qa") == trail[4]
    assert trail.verification_of(version, "qa", "author-live") == trail[3]
    assert [d.version for d in trail.history("qa", "author-live")] == []  # torn down at the end
    assert not audit.is_verified(trail[3], trail[3].digests)  # its checks failed
