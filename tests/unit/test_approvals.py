"""The approval rules: who may answer, what an answer means, what the form shows, the event an approval sends."""

from __future__ import annotations

from cloudops import approvals
from cloudops.approvals import Answer
from cloudops.settings import Settings
from tests.release_records import APP, sample_release


def test_the_person_who_started_the_release_may_not_approve_where_the_stage_forbids_it(settings: Settings) -> None:
    forbids = settings.stage("staging").model_copy(update={"self_approval": False})
    allows = settings.stage("staging").model_copy(update={"self_approval": True})
    own = Answer(decision="approve", approver="dev@example.com")
    other = Answer(decision="approve", approver="qa.lead@example.com")
    assert approvals.refuses_self_approval(forbids, "dev@example.com", own)
    assert not approvals.refuses_self_approval(forbids, "dev@example.com", other)
    assert not approvals.refuses_self_approval(allows, "dev@example.com", own)
    # Nobody named as the starter: nothing to hold the rule on.
    assert not approvals.refuses_self_approval(forbids, "", own)


def test_an_answer_is_approved_or_rejected_and_no_answer_is_a_timed_out_rejection() -> None:
    approved = approvals.verdict(Answer(decision="approve", approver="carol", ticket="QA-1", comment="ok"), 60)
    assert (approved.decision, approved.actor, approved.ticket, approved.comment) == ("approved", "carol", "QA-1", "ok")
    assert approvals.verdict(Answer(decision="reject", approver="dan"), 60).decision == "rejected"
    nobody = approvals.verdict(None, 3600)
    assert (nobody.decision, nobody.actor) == ("timed-out", "(nobody)")
    assert nobody.comment == "no answer within 3600 s: a rejection"


def test_the_form_shows_the_release_its_digests_and_where_approving_lets_it_go() -> None:
    release = sample_release()
    text = approvals.request_markdown(release, "qa", ["staging"], {"app": APP})
    assert text.startswith(f"## Approve {release.id} in qa?")
    assert "promoted to: **staging**" in text
    assert f"| app | `{APP}` |" in text
    assert "snapshots: commerce-author-1-0, commerce-live-1-0" in text
    assert "**(none: the last stage)**" in approvals.request_markdown(release, "prod", [], {})


def test_the_approved_event_names_the_next_stage_only_when_the_trigger_should_promote() -> None:
    resource, payload = approvals.approved_event("commerce", "1.0", "qa", ["staging"], {"app": APP}, "carol", True)
    assert resource == {
        "prefect.resource.id": "cloudops.release.commerce.1.0",
        "cloudops.stage": "qa",
        "cloudops.next-stage": "staging",
    }
    assert payload["approver"] == "carol" and payload["digests"] == {"app": APP}
    by_release, _ = approvals.approved_event("commerce", "1.0", "qa", ["staging"], {}, "carol", False)
    last_stage, _ = approvals.approved_event("commerce", "1.0", "prod", [], {}, "carol", True)
    assert "cloudops.next-stage" not in by_release
    assert "cloudops.next-stage" not in last_stage
