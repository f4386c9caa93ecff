"""What runs where, read from the audit trail: each stage's deployed release, its approval, and the one before
(each stage's history: :meth:`cloudops.trail.Trail.history`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from cloudops.trail import Deployed, Trail


class KindStatus(BaseModel):
    """The release deployed as one environment kind in a stage."""

    model_config = ConfigDict(frozen=True)

    kind: str
    current: Deployed
    approval: str
    approved_by: str | None
    previous: Deployed | None
    verification: str = "not verified"


class StageStatus(BaseModel):
    model_config = ConfigDict(frozen=True)

    stage: str
    kinds: list[KindStatus]


def approval_state(trail: Trail, version: str, stage: str, last_stage: bool) -> tuple[str, str | None]:
    """How ``version`` stands in ``stage``'s approval, and who decided (None while nobody has)."""
    decision = trail.approval_of(version, stage)
    if decision is None:
        return ("not needed (the last stage)" if last_stage else "awaiting approval"), None
    ticket = f" ({decision.ticket})" if decision.ticket else ""
    at = f"{decision.at:%Y-%m-%d %H:%M} UTC"
    if decision.decision == "approved":
        return f"approved by {decision.actor}{ticket} at {at}", decision.actor
    if decision.decision == "timed-out":
        return f"timed out (nobody answered) at {at}", None
    return f"rejected by {decision.actor}{ticket} at {at}", decision.actor


def verification_state(trail: Trail, current: Deployed, stage: str, kind: str) -> str:
    """How the deploy of ``current`` stands in its last verification, as a line."""
    entry = trail.verification_of(current.version, stage, kind)
    if entry is None or entry.digests != current.digests:
        return "not verified (no verification recorded for these digests)"
    outcome = "verified" if entry.passed else "FAILED"
    said = entry.comment.removeprefix("verification failed: ").removeprefix("verified: ")
    return f"{outcome} at {entry.at:%Y-%m-%d %H:%M} UTC: {said}"


def release_status(trail: Trail, stages: list[str], last_stages: set[str]) -> list[StageStatus]:
    """For each of ``stages`` in this order, the release of each kind deployed there now."""
    result = []
    for stage in stages:
        rows = []
        for kind in trail.kinds_in(stage):
            deployed = trail.history(stage, kind)
            if not deployed:
                continue
            current = deployed[-1]
            approval, approved_by = approval_state(trail, current.version, stage, stage in last_stages)
            rows.append(
                KindStatus(
                    kind=kind,
                    current=current,
                    approval=approval,
                    approved_by=approved_by,
                    previous=deployed[-2] if len(deployed) > 1 else None,
                    verification=verification_state(trail, current, stage, kind),
                )
            )
        result.append(StageStatus(stage=stage, kinds=rows))
    return result


def status_text(status: list[StageStatus]) -> str:
    """The status as lines for a terminal."""
    lines: list[str] = []
    for stage in status:
        if not stage.kinds:
            lines += [f"{stage.stage}: nothing deployed", ""]
            continue
        for row in stage.kinds:
            current = row.current
            how = f", rolled back from {current.rolled_back_from}" if current.rolled_back_from else ""
            lines.append(
                f"{stage.stage} ({row.kind}): {current.version}, deployed {current.at:%Y-%m-%d %H:%M} UTC "
                f"by {current.actor}{how}"
            )
            lines += [f"  {name:<8} {digest}" for name, digest in current.digests.items()]
            if current.snapshots:
                lines.append(f"  snapshots {current.snapshots}")
            lines.append(f"  checks    {row.verification}")
            lines.append(f"  approval  {row.approval}")
            previous = row.previous
            lines.append(
                f"  previous  {previous.version} (deployed {previous.at:%Y-%m-%d %H:%M} UTC)"
                if previous
                else "  previous  none (nothing to roll back to)"
            )
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"
