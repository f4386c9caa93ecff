"""Approval rules: what a person is asked, which answers count, what an answer means, and the event an
approval sends. Pure functions; the await-approval flow only waits for the answer and records it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from cloudops.audit import Decision
from cloudops.identity import Identity, may_approve
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
    identity_proof: str = ""  # a presigned sts:GetCallerIdentity request (cloudops/identity.py); none from the UI


class Verdict(BaseModel):
    """What an approval wait came to: the decision the audit trail records, and who gave it."""

    model_config = ConfigDict(frozen=True)

    decision: Decision
    actor: str
    ticket: str = ""
    comment: str = ""
    identity: str = ""  # the approver's AWS ARN, as STS verified it; empty when the answer carried none


def refuses_self_approval(stage: Stage, started_by: str, answer: Answer, identity: Identity | None = None) -> bool:
    """Whether ``answer`` comes from the person who started the release (by name, or by verified ARN), in a stage
    that forbids it."""
    if stage.self_approval or not started_by:
        return False
    return answer.approver == started_by or (identity is not None and identity.arn == started_by)


def refusal(
    stage: Stage,
    stage_name: str,
    started_by: str,
    answer: Answer,
    identity: Identity | None,
    proof_problem: str | None = None,
) -> str | None:
    """Why the stage refuses ``answer`` (``identity``: who signed its proof, as STS said; ``proof_problem``: why its
    proof could not be verified); None when it accepts it."""
    verified_only = stage.verified_approvers or bool(stage.approvers)
    if proof_problem is not None:
        return proof_problem
    if verified_only and identity is None:
        return (
            f"{stage_name} accepts only verified approvers: answer with `cloudops approve`, which signs your AWS "
            "identity (an open Prefect server cannot say who answered a form in its UI)"
        )
    if identity is not None and not may_approve(identity.arn, stage.approvers):
        return f"{identity.arn} may not approve {stage_name} (its approvers: {', '.join(stage.approvers)})"
    if refuses_self_approval(stage, started_by, answer, identity):
        return self_approval_refusal(started_by, stage_name)
    return None


def form_key(attempt: int) -> str:
    """The key of the approval form asked for the ``attempt``-th time (an answer it refuses asks again)."""
    return f"approval-{attempt}"


def refusal_key(form: str) -> str:
    """The run input under which the run says why it refused the answer to ``form``: `cloudops approve` reads it."""
    return f"{form}-refused"


def self_approval_refusal(started_by: str, stage: str) -> str:
    return f"{started_by} started this release and {stage} forbids self-approval: another person must approve it"


def refused_markdown(reason: str) -> str:
    """The line above a form asked again: why the last answer was refused."""
    return f"**The last answer was refused:** {reason}.\n\n"


def verdict(answer: Answer | None, timeout_seconds: int, identity: Identity | None = None) -> Verdict:
    """The decision of an answer; no answer within the time is a rejection, recorded as timed out."""
    if answer is None:
        return Verdict(decision="timed-out", actor=NOBODY, comment=f"no answer within {timeout_seconds} s: a rejection")
    return Verdict(
        decision="approved" if answer.decision == "approve" else "rejected",
        actor=answer.approver,
        ticket=answer.ticket,
        comment=answer.comment,
        identity=identity.arn if identity else "",
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
        f"{verdict.comment}\n\n"
        + (f"Verified AWS identity: `{verdict.identity}`.\n\n" if verdict.identity else "")
        + f"Recorded at `{location}`.\n"
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
