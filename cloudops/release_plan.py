"""The whole release as a plan: which stages a release goes through, when a stage's approval is already
given, and the summary of what happened in each stage. Pure functions over settings and records."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from cloudops.audit import ApprovalEntry, PromotionEntry
from cloudops.deploy import APP_ENDPOINT, StackOutcome
from cloudops.errors import CloudOpsError
from cloudops.release import Release
from cloudops.reports import markdown_cell
from cloudops.settings import Settings


class StageOutcome(BaseModel):
    """What the release did in one stage: its promotion, its deploy, and the approval it got there."""

    model_config = ConfigDict(frozen=True)

    stage: str
    promoted: bool = False
    promotion_reused: bool = False
    blobs_copied: int = 0
    deployed: str = ""
    stacks_changed: tuple[str, ...] = ()
    endpoints: dict[str, str] = {}
    config: dict[str, str] = {}  # the stage's config store after the deploy, by parameter name (no secrets)
    verification: str = ""  # its verification's one line ("verified: ..." or "verification failed: ...")
    decision: str = ""
    approver: str = ""
    approval_reused: bool = False


class ReleaseOutcome(BaseModel):
    """A whole release: what was built and what happened in each stage it reached."""

    model_config = ConfigDict(frozen=True)

    release: Release
    stages: tuple[StageOutcome, ...]

    @property
    def rebuilt(self) -> list[str]:
        """The images built and the snapshots taken by this run (none when nothing changed)."""
        return [f"image {n}" for n, i in self.release.images.items() if i.rebuilt] + [
            f"snapshot {e}" for e, s in self.release.snapshots.items() if s.created
        ]


def stages_to(settings: Settings, to_stage: str) -> list[str]:
    """The stages a release passes through from the build stage to ``to_stage``, in order (build excluded)."""
    settings.stage(to_stage)
    if to_stage == settings.build_stage:
        raise CloudOpsError(
            f"stage {to_stage!r} is the build stage; release to one of "
            f"{', '.join(s for s in settings.promotion_order() if s != settings.build_stage)}"
        )
    path = [to_stage]
    source = settings.stage(to_stage).promotes_from
    while source is not None and source != settings.build_stage:
        path.append(source)
        source = settings.stage(source).promotes_from
    return list(reversed(path))


def promotion_still_there(before: PromotionEntry | None, missing: list[str]) -> bool:
    """Whether a stage still holds an earlier promotion of the release: one is on record for these digests, and
    nothing of it (an image, a snapshot share) is missing there now."""
    return before is not None and not missing


def deployed_outcome(
    stage: str,
    kind: str,
    stacks: list[StackOutcome],
    config: dict[str, str],
    *,
    promotion_reused: bool,
    blobs_copied: int,
    verification: str = "",
) -> StageOutcome:
    """A stage's outcome once the release is promoted and deployed there (before any approval)."""
    return StageOutcome(
        verification=verification,
        stage=stage,
        promoted=True,
        promotion_reused=promotion_reused,
        blobs_copied=blobs_copied,
        deployed=kind,
        stacks_changed=tuple(s.stack for s in stacks if s.executed),
        endpoints={s.stack: s.outputs[APP_ENDPOINT] for s in stacks if APP_ENDPOINT in s.outputs},
        config=config,
    )


def approved_outcome(outcome: StageOutcome, approval: ApprovalEntry, reused: bool) -> StageOutcome:
    """The stage's outcome with its approval decision."""
    return outcome.model_copy(
        update={"decision": approval.decision, "approver": approval.actor, "approval_reused": reused}
    )


def stop_reason(approval: ApprovalEntry) -> str:
    """Why the release stops at this approval ("" when it goes on): who rejected it, or that nobody answered."""
    if approval.decision == "approved":
        return ""
    reason = f"{approval.decision} in {approval.stage} by {approval.actor}"
    return reason + (f": {approval.comment}" if approval.comment else "")


def promotion_text(outcome: StageOutcome) -> str:
    if outcome.promotion_reused:
        return "promoted before (nothing to copy)"
    return f"{outcome.blobs_copied} blob(s) copied"


def failed_outcome(stage: str, kind: str, error: str) -> StageOutcome:
    """A stage whose deploy failed its verification: the run's error says which check, and the rollback."""
    return StageOutcome(stage=stage, promoted=True, deployed=kind, verification=f"**failed**: {error}")


def summary_markdown(release: Release, outcomes: list[StageOutcome], stopped: str = "") -> str:
    """The release and each stage's outcome, as the run's closing artifact."""
    lines = [
        f"# Release {release.id}",
        "",
        f"- **commit**: `{release.commit}` (ref `{release.ref}`)",
        f"- **package**: `{release.package_digest}`",
        "",
        "| image | digest |",
        "|---|---|",
        *(f"| {name} | `{image.digest}` |" for name, image in sorted(release.images.items())),
        "",
        "| database | snapshot |",
        "|---|---|",
        *(f"| {env} | `{snap.identifier}` |" for env, snap in sorted(release.snapshots.items())),
        "",
        "| stage | promotion | deploy | stacks changed | verification | approval | endpoint |",
        "|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        promotion = promotion_text(o) if o.promoted else "-"
        approval = "-"
        if o.decision:
            approval = f"{o.decision} by {o.approver}" + (" (recorded before)" if o.approval_reused else "")
        endpoint = next(iter(o.endpoints.values()), "-")
        lines.append(
            f"| {o.stage} | {promotion} | {o.deployed or '-'} | {', '.join(o.stacks_changed) or 'none'} | "
            f"{markdown_cell(o.verification) or '-'} | {approval} | {endpoint} |"
        )
    if stopped:
        lines += ["", f"**Stopped**: {stopped}"]
    return "\n".join(lines) + "\n"
