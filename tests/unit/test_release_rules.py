"""The release flow's rules as pure functions: a promotion still there, a stage's outcome, why a release stops."""

from __future__ import annotations

from cloudops import release_plan
from cloudops.audit import approval_entry, promotion_entry
from cloudops.deploy import StackOutcome
from tests.release_records import sample_release


def test_a_promotion_counts_as_still_there_only_when_on_record_and_nothing_is_missing() -> None:
    before = promotion_entry(
        sample_release(), "build", "qa", {}, approved_by="", snapshots=[], copied=({}, {}), flow_run_id=None
    )
    assert release_plan.promotion_still_there(before, [])
    assert not release_plan.promotion_still_there(before, ["app@sha256:x"])
    assert not release_plan.promotion_still_there(None, [])


def test_a_deployed_stage_lists_the_stacks_that_changed_and_their_endpoints() -> None:
    stacks = [
        StackOutcome(
            stack="a", environment="author", action="UPDATE", executed=True, outputs={"AppEndpoint": "http://a"}
        ),
        StackOutcome(stack="l", environment="live", action="UPDATE", executed=False, outputs={}),
    ]
    outcome = release_plan.deployed_outcome(
        "qa", "author-live", stacks, {"k": "v"}, promotion_reused=True, blobs_copied=0
    )
    assert outcome.stacks_changed == ("a",)
    assert outcome.endpoints == {"a": "http://a"}
    assert (outcome.promoted, outcome.promotion_reused, outcome.config) == (True, True, {"k": "v"})


def test_a_release_stops_at_a_rejection_or_no_answer_naming_who_and_why() -> None:
    release = sample_release()
    approved = approval_entry(release, "qa", {}, "approved", "carol")
    rejected = approval_entry(release, "qa", {}, "rejected", "dan", comment="checkout fails")
    timed_out = approval_entry(release, "staging", {}, "timed-out", "(nobody)")
    assert release_plan.stop_reason(approved) == ""
    assert release_plan.stop_reason(rejected) == "rejected in qa by dan: checkout fails"
    assert release_plan.stop_reason(timed_out) == "timed-out in staging by (nobody)"
    outcome = release_plan.approved_outcome(release_plan.StageOutcome(stage="qa"), rejected, reused=False)
    assert (outcome.decision, outcome.approver, outcome.approval_reused) == ("rejected", "dan", False)


def test_a_teardown_needs_the_stage_to_allow_it_and_the_exact_confirmation() -> None:
    import pytest

    from cloudops.deploy import check_teardown
    from cloudops.errors import CloudOpsError

    stacks = ["commerce-qa-author", "commerce-qa-live"]
    check_teardown("qa", "author-live", True, "qa/author-live", stacks)
    with pytest.raises(CloudOpsError, match="teardown of stage 'prod' is not allowed by its configuration"):
        check_teardown("prod", "author-live", False, "prod/author-live", stacks)
    with pytest.raises(
        CloudOpsError, match="to delete commerce-qa-author, commerce-qa-live, pass confirm=qa/author-live"
    ):
        check_teardown("qa", "author-live", True, "qa", stacks)
