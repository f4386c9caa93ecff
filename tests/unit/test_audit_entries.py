"""One factory per kind of audit entry: what each records, for exactly which digests."""

from __future__ import annotations

from cloudops import audit, environment_kinds
from tests.release_records import APP, BROKER, MYSQL, sample_release


def test_a_deploy_records_the_digests_and_snapshots_its_kind_runs_and_each_stack_changed_or_not() -> None:
    release = sample_release()
    changed = {"commerce-qa-author": True, "commerce-qa-live": False}
    entry = audit.deploy_entry(release, "qa", environment_kinds.kind("author-live"), changed, "ops", "run-1")
    assert (entry.kind, entry.stage, entry.version, entry.actor, entry.flow_run_id) == (
        "deploy",
        "qa",
        "1.0",
        "ops",
        "run-1",
    )
    assert entry.digests == {"app": APP, "broker": BROKER}  # author-live runs no database image
    assert (entry.deploy_kind, entry.snapshots) == ("author-live", ("commerce-author-1-0", "commerce-live-1-0"))
    assert entry.stacks == changed
    single = audit.deploy_entry(release, "qa", environment_kinds.kind("single-instance"), {}, "ops", None)
    assert single.digests == {"app": APP, "broker": BROKER, "mysql": MYSQL}
    assert single.snapshots == ()


def test_an_approval_records_the_decision_for_exactly_the_digests_shown() -> None:
    entry = audit.approval_entry(
        sample_release(), "qa", {"app": APP}, "rejected", "carol", ticket="QA-9", comment="checkout fails"
    )
    assert (entry.kind, entry.decision, entry.actor, entry.ticket, entry.comment) == (
        "approval",
        "rejected",
        "carol",
        "QA-9",
        "checkout fails",
    )
    assert entry.digests == {"app": APP}


def test_a_promotion_records_where_from_on_whose_approval_and_what_it_copied() -> None:
    entry = audit.promotion_entry(
        sample_release(),
        "qa",
        "staging",
        {"app": APP},
        approved_by="carol",
        snapshots=["commerce-author-1-0"],
        copied=({"app": 3}, {"app": 1}),
        flow_run_id="run-2",
    )
    assert (entry.kind, entry.stage, entry.actor) == ("promotion", "staging", "flow-run:run-2")
    assert (entry.from_stage, entry.approved_by, entry.snapshots) == ("qa", "carol", ("commerce-author-1-0",))
    assert (entry.blobs_copied, entry.blobs_present, entry.blobs_copied_total) == ({"app": 3}, {"app": 1}, 3)


def test_a_rollback_records_the_release_it_left_and_why() -> None:
    entry = audit.rollback_entry(
        sample_release("0.9"),
        "qa",
        environment_kinds.kind("author-live"),
        ("1.0", {"app": "sha256:new"}),
        {"commerce-qa-author": True},
        actor="ops",
        reason="checkout fails",
        flow_run_id="run-3",
    )
    assert (entry.kind, entry.version, entry.comment) == ("rollback", "0.9", "checkout fails")
    assert (entry.deploy_kind, entry.rolled_back_from) == ("author-live", "1.0")
    assert (entry.from_digests, entry.stacks) == ({"app": "sha256:new"}, {"commerce-qa-author": True})


def test_a_teardown_records_the_stacks_it_deleted() -> None:
    entry = audit.teardown_entry("commerce", "qa", "single-instance", ["commerce-qa-single-instance"], "ops", None)
    assert (entry.kind, entry.version, entry.digests) == ("teardown", "-", {})
    assert (entry.deploy_kind, entry.stacks) == ("single-instance", ("commerce-qa-single-instance",))
