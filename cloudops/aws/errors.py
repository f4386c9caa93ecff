"""The one place where botocore's and boto3's errors become ours.

Every adapter lets a failure it has no specific answer for go through :func:`translate` (usually through the
:func:`aws_call` context manager). Throttling, a 5xx and a dropped or timed-out connection become
:class:`AwsTransientError`, which the task layer's retry condition retries; anything else becomes the
permanent :class:`AwsError`, whose message names the call and what to do. Adapters keep their own answers
for the cases they know (a missing object is None or False, a bucket name taken by another account) and
hand the rest on with a bare ``raise`` inside ``aws_call``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from boto3.exceptions import RetriesExceededError, S3UploadFailedError
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
    ResponseStreamingError,
    WaiterError,
)

from cloudops.errors import AwsError, AwsTransientError, CloudOpsError

# Error codes AWS answers when it throttles a caller or fails on its side (botocore's standard retry mode
# retries the same ones before they reach us). NOTE: LimitExceededException is left out on purpose:
# CloudFormation and others use it for a quota reached, which no retry fixes.
TRANSIENT_AWS_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "EC2ThrottledException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "PriorRequestNotComplete",
        "SlowDown",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)
ACCESS_DENIED_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError", "Forbidden"}
)
# A connection that could not be made, was dropped (botocore wraps urllib3's ProtocolError in
# ConnectionClosedError), or timed out: the call may well work a moment later.
CONNECTION_ERRORS: tuple[type[BotoCoreError], ...] = (
    EndpointConnectionError,
    ConnectTimeoutError,
    ConnectionClosedError,
    ReadTimeoutError,
    ResponseStreamingError,
)


def code(error: ClientError) -> str:
    """The AWS error code of ``error`` ("ThrottlingException", "404", ...)."""
    return str(error.response.get("Error", {}).get("Code", ""))


def message(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message", ""))


def status(error: ClientError) -> int:
    """The HTTP status AWS answered with; 0 when unknown."""
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def is_transient_client_error(error: ClientError) -> bool:
    return code(error) in TRANSIENT_AWS_CODES or status(error) == 429 or status(error) >= 500


def _unwrap(error: BaseException) -> BaseException:
    """The botocore error inside boto3's S3 transfer wrappers (they keep only its text, or its context)."""
    if isinstance(error, RetriesExceededError):
        last = getattr(error, "last_exception", None)  # set by boto3's __init__, which the stubs leave out
        return last if isinstance(last, BaseException) else error
    if isinstance(error, S3UploadFailedError) and isinstance(error.__context__, ClientError):
        return error.__context__
    return error


def translate(error: BaseException, what: str, fix: str = "") -> CloudOpsError:
    """Our error for ``error``, raised by the AWS call ``what`` ("reading s3://bucket/key").

    ``fix`` says what to do when the failure is permanent; without one, a default for the kind of error.
    An error that is already ours is returned as it is.
    """
    if isinstance(error, CloudOpsError):
        return error
    if isinstance(error, RetriesExceededError):
        cause = _unwrap(error)
        return AwsTransientError(f"{what} failed after retries of the S3 transfer ({cause}); worth a retry")
    error = _unwrap(error)
    if isinstance(error, ClientError):
        return _translate_client_error(error, what, fix)
    if isinstance(error, WaiterError):
        return _translate_waiter_error(error, what, fix)
    if isinstance(error, CONNECTION_ERRORS):
        return AwsTransientError(f"{what} failed: the connection to AWS failed ({error}); worth a retry")
    return AwsError(f"{what} failed: {error}; {fix or 'check the account settings and the endpoint'}")


def _translate_client_error(error: ClientError, what: str, fix: str) -> CloudOpsError:
    found = f"{code(error) or status(error)}: {message(error)}".rstrip(": ")
    if is_transient_client_error(error):
        return AwsTransientError(f"{what} failed: AWS answered {found} (HTTP {status(error)}); worth a retry")
    if code(error) in ACCESS_DENIED_CODES and not fix:
        fix = f"grant the account's role the permission for {error.operation_name}"
    return AwsError(f"{what} failed: {found}; {fix or 'correct the request or the resource it names'}")


def _translate_waiter_error(error: WaiterError, what: str, fix: str) -> CloudOpsError:
    last = error.last_response if isinstance(error.last_response, dict) else {}
    last_code = str(last.get("Error", {}).get("Code", ""))
    last_status = int(last.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    if last_code in TRANSIENT_AWS_CODES or last_status == 429 or last_status >= 500:
        return AwsTransientError(f"{what} failed: AWS last answered {last_code or last_status}; worth a retry")
    return AwsError(f"{what} failed: {error}; {fix or 'look at the resource in AWS for the reason it is not ready'}")


@contextmanager
def aws_call(what: str, fix: str = "") -> Iterator[None]:
    """Translate any botocore or boto3 error raised inside into ours (see :func:`translate`)."""
    try:
        yield
    except CloudOpsError:
        raise
    except (ClientError, BotoCoreError, RetriesExceededError, S3UploadFailedError) as error:
        raise translate(error, what, fix) from None
