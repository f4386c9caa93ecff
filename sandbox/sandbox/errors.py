"""The sandbox's errors: a part that cannot start, answer or stop."""

from __future__ import annotations

from cloudops.errors import CloudOpsError


class SandboxError(CloudOpsError):
    """The local sandbox of real parts cannot start, answer or stop."""


class PortInUseError(SandboxError):
    """A sandbox part's port is taken by another process."""


class TaskNotFoundError(SandboxError):
    """An ECS task id that the sandbox's Docker engine runs no container of."""
