"""What runs where, read from the audit trail: each stage's deployed release, its approval, and the one before.

A stage's history of one environment kind is a stack of deploys. A deploy of another release pushes it;
a redeploy of the release on top changes nothing; a rollback pops back to its target, so the release it
rolled back from is no longer "the one before" (a second rollback goes further back instead of returning
to the release that was just rolled back from).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from cloudops.audit import (
    AuditEntry,
    DeployEntry,
    RollbackEntry,
    TeardownEntry,
    latest_approval,
    latest_verification,
)
from cloudops.errors import CloudOpsError


class NothingToRollBackError(CloudOpsError):
    """A stage and kind with no release deployed before the current one."""


class RollbackRefusedError(CloudOpsError):
    """A rollback whose target release is gone from the stage or no longer approved."""


class Deployed(BaseModel):
    """One release in a stage's history of one environment kind."""

    model_config = ConfigDict(frozen=True)

    version: str
    digests: dict[str, str]
    snapshots: str
    at: datetime
    actor: str
    flow_run_id: str | None
    rolled_back_from: str | None = None


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


def _deployed(entry: DeployEntry | RollbackEntry, rolled_back_from: str | None = None) -> Deployed:
    return Deployed(
        version=entry.version,
        digests=entry.digests,
        snapshots=", ".join(entry.snapshots) if isinstance(entry, DeployEntry) else "",
        at=entry.at,
        actor=entry.actor,
        flow_run_id=entry.flow_run_id,
        rolled_back_from=rolled_back_from,
    )


def history(trail: Sequence[AuditEntry], stage: str, kind: str) -> list[Deployed]:
    """The releases of ``kind`` in ``stage``, oldest first; the last one is deployed now."""
    stack: list[Deployed] = []
    for entry in trail:
        if not isinstance(entry, DeployEntry | TeardownEntry | RollbackEntry):
            continue
        if entry.stage != stage or entry.deploy_kind != kind:
            continue
        if isinstance(entry, DeployEntry):
            if not stack or stack[-1].version != entry.version:
                stack.append(_deployed(entry))
        elif isinstance(entry, TeardownEntry):
            stack.clear()  # nothing runs there any more, and nothing is left to roll back to
        else:
            # the rollback's own deploy pushed its target on top of the release it rolled back from
            done = stack.pop() if stack and stack[-1].version == entry.version else _deployed(entry)
            while stack and stack[-1].version != entry.version:
                stack.pop()
            if stack:
                stack.pop()
            stack.append(done.model_copy(update={"rolled_back_from": entry.rolled_back_from}))
    return stack


def kinds_in(trail: Sequence[AuditEntry], stage: str) -> list[str]:
    """The environment kinds ever deployed in ``stage``, in the order they first were."""
    found: list[str] = []
    for entry in trail:
        if not isinstance(entry, DeployEntry | RollbackEntry):
            continue
        if entry.stage == stage and entry.deploy_kind and entry.deploy_kind not in found:
            found.append(entry.deploy_kind)
    return found


def approval_state(trail: Sequence[AuditEntry], version: str, stage: str, last_stage: bool) -> tuple[str, str | None]:
    """How ``version`` stands in ``stage``'s approval, and who decided (None while nobody has)."""
    decision = latest_approval(trail, version, stage)
    if decision is None:
        return ("not needed (the last stage)" if last_stage else "awaiting approval"), None
    ticket = f" ({decision.ticket})" if decision.ticket else ""
    at = f"{decision.at:%Y-%m-%d %H:%M} UTC"
    if decision.decision == "approved":
        return f"approved by {decision.actor}{ticket} at {at}", decision.actor
    if decision.decision == "timed-out":
        return f"timed out (nobody answered) at {at}", None
    return f"rejected by {decision.actor}{ticket} at {at}", decision.actor


def verification_state(trail: Sequence[AuditEntry], current: Deployed, stage: str, kind: str) -> str:
    """How the deploy of ``current`` stands in its last verification, as a line."""
    entry = latest_verification(trail, current.version, stage, kind)
    if entry is None or entry.digests != current.digests:
        return "not verified (no verification recorded for these digests)"
    outcome = "verified" if entry.passed else "FAILED"
    said = entry.comment.removeprefix("verification failed: ").removeprefix("verified: ")
    return f"{outcome} at {entry.at:%Y-%m-%d %H:%M} UTC: {said}"


def release_status(trail: Sequence[AuditEntry], stages: list[str], last_stages: set[str]) -> list[StageStatus]:
    """For each of ``stages`` in this order, the release of each kind deployed there now."""
    result = []
    for stage in stages:
        rows = []
        for kind in kinds_in(trail, stage):
            deployed = history(trail, stage, kind)
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


def check_rollback_stage(build_stage: str, stage: str, stages: list[str]) -> None:
    """Nothing is deployed in the build stage, so it has nothing to roll back."""
    if stage == build_stage:
        raise NothingToRollBackError(
            f"stage {stage!r} is the build stage: nothing is deployed there; roll back one of "
            f"{', '.join(n for n in stages if n != stage)}"
        )


def rollback_target(trail: Sequence[AuditEntry], stage: str, kind: str) -> tuple[Deployed, Deployed]:
    """The release of ``kind`` deployed in ``stage`` now and the one before it, or an error saying why not."""
    deployed = history(trail, stage, kind)
    if not deployed:
        raise NothingToRollBackError(
            f"nothing of kind {kind} is deployed in {stage}: there is nothing to roll back; deploy a release "
            "first (deploy-environment), or check the stage and --kind; nothing was touched"
        )
    if len(deployed) == 1:
        raise NothingToRollBackError(
            f"{stage} ({kind}) runs release {deployed[0].version} and has no earlier release to roll back to "
            "(releases rolled back from do not count); deploy the release you want with deploy-environment; "
            "nothing was touched"
        )
    return deployed[-1], deployed[-2]


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
