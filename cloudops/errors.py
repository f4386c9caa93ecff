"""The project's errors: one base class, a subclass per kind of failure.

Every message names the thing that is wrong and what to do about it. Each exception keeps the
arguments it was built with in ``self.args`` so that it survives pickling (Prefect pickles task
failures across processes).
"""

from __future__ import annotations


class CloudOpsError(Exception):
    """Base class of every error this project raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __reduce__(self) -> tuple[type[CloudOpsError], tuple[str]]:
        return (self.__class__, (self.message,))

    def __str__(self) -> str:
        return self.message


class ConfigurationError(CloudOpsError):
    """The pipeline's configuration (``cloudops.toml`` plus ``CLOUDOPS_*`` overrides) is invalid."""


class UnknownStageError(CloudOpsError):
    """A stage name that the configuration does not define, or one that cannot be used where it was given."""

    def __init__(self, stage: str, known: list[str] | tuple[str, ...], why: str = "") -> None:
        self.stage = stage
        self.known = tuple(known)
        self.why = why
        problem = f"stage {stage!r} {why}" if why else f"unknown stage {stage!r}"
        super().__init__(
            f"{problem}; use one of {', '.join(self.known)} (stages are defined under [stages.<name>] in cloudops.toml)"
        )

    def __reduce__(self) -> tuple[type[UnknownStageError], tuple[str, tuple[str, ...], str]]:  # type: ignore[override]
        return (self.__class__, (self.stage, self.known, self.why))


class AccountMismatchError(CloudOpsError):
    """Credentials that belong to another AWS account than the one they claim."""

    def __init__(self, expected: str, actual: str, where: str) -> None:
        self.expected = expected
        self.actual = actual
        self.where = where
        super().__init__(
            f"{where} claims AWS account {expected} but its credentials belong to account {actual}; "
            f"fix the credentials (or role ARN) of {where} so that they reach account {expected}"
        )

    def __reduce__(self) -> tuple[type[AccountMismatchError], tuple[str, str, str]]:  # type: ignore[override]
        return (self.__class__, (self.expected, self.actual, self.where))


class CredentialsError(CloudOpsError):
    """Credentials that AWS refuses, or that cannot be found."""


class MissingBlockError(CloudOpsError):
    """A stage whose credential block has not been saved in Prefect."""


class AwsError(CloudOpsError):
    """An AWS call that failed for a reason that is not transient."""


class TamperedRecordError(CloudOpsError):
    """A record of the build bucket (an audit entry, a release record) changed or deleted after it was written."""


class DataSetError(CloudOpsError):
    """A data-set folder that is malformed, a data set changed after it was applied, or one that failed."""


class PackagingError(CloudOpsError):
    """A deployment package that cannot be built: a bad ref, a failed build command, a missing file."""


class ImageBuildError(CloudOpsError):
    """An image that the Docker engine could not build or push."""


class TransientError(CloudOpsError):
    """A failure worth retrying: a registry or engine that dropped the connection or answered 5xx.

    The one type the task layer's retry condition reads (``tasks/retry.py``): raise a subclass of it, and
    a task with ``AWS_RETRIES`` tries again.
    """


class AwsTransientError(TransientError):
    """An AWS call that failed for a reason worth retrying: throttling, a 5xx, a dropped or timed-out
    connection. Raised by ``cloudops.aws.errors.translate``; the permanent counterpart is :class:`AwsError`."""


class DatabaseUnavailableError(DataSetError, TransientError):
    """The database server went away during a population (stopped, restarted, the connection dropped): worth
    another try once it answers; the set that was running was rolled back whole."""
