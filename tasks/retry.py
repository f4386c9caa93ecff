"""Retry only what is transient: throttling, 5xx and connection errors; anything else fails at once."""

from __future__ import annotations

from typing import Any

import httpx
from prefect.tasks import exponential_backoff

from cloudops.errors import TransientError


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` is worth a retry: a throttle, a 5xx, a dropped connection.

    AWS failures arrive already sorted: the adapters in ``cloudops/aws`` raise ``AwsTransientError`` (a
    ``TransientError``) for throttling, 5xx and connection errors, and the permanent ``AwsError`` for the rest.
    The registry client's httpx errors are read here as they are.
    """
    if isinstance(error, TransientError):
        return True
    if isinstance(error, httpx.HTTPStatusError):
        return error.response.status_code == 429 or error.response.status_code >= 500
    return isinstance(error, httpx.TransportError | ConnectionError | TimeoutError)


def retry_transient(task: Any, task_run: Any, state: Any) -> bool:
    """A Prefect ``retry_condition_fn``: retry when the failure was transient."""
    try:
        state.result()
    except Exception as error:  # the task's own exception, re-raised by its state
        return is_transient(error)
    return False


AWS_RETRIES: dict[str, Any] = {
    "retries": 4,
    "retry_delay_seconds": exponential_backoff(backoff_factor=2),
    "retry_jitter_factor": 0.5,
    "retry_condition_fn": retry_transient,
}
