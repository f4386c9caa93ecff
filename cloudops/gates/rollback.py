"""The rollback gate: what a rollback of a stage goes back to (the release it ran before its current one, in the
trail), and when a failed verification is not rolled back at all."""

from __future__ import annotations

from cloudops.errors import CloudOpsError
from cloudops.trail import Deployed, Trail


class NothingToRollBackError(CloudOpsError):
    """A stage and kind with no release deployed before the current one."""


class RollbackRefusedError(CloudOpsError):
    """A rollback whose target release is gone from the stage or no longer approved."""


def check_rollback_stage(build_stage: str, stage: str, stages: list[str]) -> None:
    """Nothing is deployed in the build stage, so it has nothing to roll back."""
    if stage == build_stage:
        raise NothingToRollBackError(
            f"stage {stage!r} is the build stage: nothing is deployed there; roll back one of "
            f"{', '.join(n for n in stages if n != stage)}"
        )


def rollback_target(trail: Trail, stage: str, kind: str) -> tuple[Deployed, Deployed]:
    """The release of ``kind`` deployed in ``stage`` now and the one before it, or an error saying why not."""
    deployed = trail.history(stage, kind)
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


def held_back_from_rollback(stage: str, asked: bool, stage_allows: bool) -> str | None:
    """Why a failed verification in ``stage`` is not rolled back, or None when it is: ``asked`` is the deploy's own
    ``auto_rollback`` (off for a rollback's deploy: rolling back a rollback could go on for ever), ``stage_allows``
    the stage's ``auto_rollback`` in cloudops.toml."""
    if not asked:
        return "not rolled back (this deploy is a rollback's, or auto_rollback was turned off for it)"
    if not stage_allows:
        return f"not rolled back ({stage} has auto_rollback = false): it stays as it is"
    return None
