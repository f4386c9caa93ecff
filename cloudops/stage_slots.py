"""One stage, one change at a time: deploys, teardowns and promotions into a stage never overlap.

The names and the refusal live here; the Prefect global concurrency limit that enforces it (one per
stage, limit 1) is taken in ``flows/runtime/stage_slot.py``.
"""

from __future__ import annotations

from cloudops.errors import CloudOpsError

LIMIT_PREFIX = "cloudops-stage-"
HOLDER_SUFFIX = "-holder"
REGISTRY_PREFIX = "cloudops-registry-"


def limit_name(stage: str) -> str:
    """The global concurrency limit of ``stage``."""
    return f"{LIMIT_PREFIX}{stage}"


def registry_limit_name(stage: str) -> str:
    """The global concurrency limit of the image copies into ``stage``'s registry (``[limits] registry_copies``)."""
    return f"{REGISTRY_PREFIX}{stage}"


def holder_variable(stage: str) -> str:
    """The Prefect variable in which the run holding ``stage``'s slot names itself (the limit cannot say)."""
    return f"{limit_name(stage)}{HOLDER_SUFFIX}"


class StageBusyError(CloudOpsError):
    """Another deploy, teardown or promotion into the stage is running, and the stage refuses to queue."""

    def __init__(self, stage: str, holders: tuple[str, ...]) -> None:
        self.stage = stage
        self.holders = tuple(holders)
        running = ", ".join(self.holders) or "another run (its flow run could not be identified)"
        super().__init__(
            f"stage {stage!r} is busy: {running} is changing it; try again when it has finished, or set "
            f'stages.{stage}.when_busy = "queue" in cloudops.toml to wait for it (global concurrency limit '
            f"{limit_name(stage)!r})"
        )

    def __reduce__(self) -> tuple[type[StageBusyError], tuple[str, tuple[str, ...]]]:  # type: ignore[override]
        return (self.__class__, (self.stage, self.holders))
