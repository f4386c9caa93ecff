"""Approval rules: what a person is asked, which answers count, what an answer means, and the event an
approval sends. Pure functions; the await-approval flow only waits for the answer and records it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from cloudops.audit import Decision
from cloudops.release import Release
from cloudops.settings import Stage

APPROVED_EVENT = "cloudops.release.approved"
NOBODY = "(nobody)"


class Answer(BaseModel):
    """A person's answer to the approval form."""

    model_config = ConfigDict(frozen=True)

    decision: str  # "approve" or "reject", as the form offers
    approver: str
    ticket: str = ""
    comment: str = ""


class Verdict(BaseModel):
    """What an approval wait came to: the decision the audit trail records, and who gave it."""

    model_config = ConfigDict(frozen=True)

    decision: Decision
    actor: str
    ticket: str = ""
    comment: str = ""


def refuses_self_approval(stage: Stage, started_by: str, answer: Answer) -> bool:
    """Whether ``answer`` comes from the person who started the release, in a stage that forbids it."""
    return not stage.self_approval and bool(started_by) and answer.approver == started_by


def verdict(answer: Answer | None, timeout_seconds: int) -> Verdict:
    """The decision of an answer; no answer within the time is a rejection, recorded as timed out."""
    if answer is None:
        return Verdict(decision="timed-out", actor=NOBODY, comment=f"no answer within {timeout_seconds} s: a rejection")
    return Verdict(
        decision="approved" if answer.decision == "approve" else "rejected",
        actor=answer.approver,
        ticket=answer.ticket,
        comment=answer.comment,
    )


def request_markdown(release: Release, stage: str, next_stages: list[str], digests: dict[str, str]) -> str:
    """What the approval form shows above its fields: the release, where approving lets it go, its digests."""
    going = ", ".join(next_stages) or "(none: the last stage)"
    return "\n".join(
        [
            f"## Approve {release.id} in {stage}?",
            "",
            f"Approving lets it be promoted to: **{going}**.",
            "",
            "| image | digest |",
            "|---|---|",
            *(f"| {n} | `{d}` |" for n, d in digests.items()),
            "",
            f"Commit `{release.commit}`; snapshots: {', '.join(s.identifier for s in release.snapshots.values())}.",
        ]
    )


def preview_heading(stage: str) -> str:
    return f"\n\n## What deploying it to {stage} will do\n\n"


def verdict_markdown(release: Release, stage: str, verdict: Verdict, location: str) -> str:
    """The approval's artifact: the decision, who gave it, and where the audit trail keeps it."""
    return (
        f"### {release.id} in {stage}: **{verdict.decision}**\n\nBy {verdict.actor} {verdict.ticket} "
        f"{verdict.comment}\n\nRecorded at `{location}`.\n"
    )


def approved_event(
    application: str,
    version: str,
    stage: str,
    next_stages: list[str],
    digests: dict[str, str],
    approver: str,
    trigger_promotion: bool,
) -> tuple[dict[str, str], dict[str, object]]:
    """The resource and payload of `cloudops.release.approved`. The promote deployment's trigger matches on the
    resource's ``cloudops.next-stage`` label: approving the last stage promotes nothing, and neither does an
    approval whose caller promotes the release itself (the release flow), so nothing is promoted twice."""
    resource = {"prefect.resource.id": f"cloudops.release.{application}.{version}", "cloudops.stage": stage}
    if next_stages and trigger_promotion:
        resource["cloudops.next-stage"] = next_stages[0]
    payload: dict[str, object] = {
        "application": application,
        "version": version,
        "stage": stage,
        "next_stages": next_stages,
        "digests": digests,
        "approver": approver,
    }
    return resource, payload
