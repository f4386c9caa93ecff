"""Retries: throttling, 5xx and dropped connections are retried; validation errors fail at once."""

from __future__ import annotations

from typing import Any, cast

import httpx
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from prefect import flow, task

from tasks.retry import AWS_RETRIES, is_transient


def client_error(code: str, status: int) -> ClientError:
    response = {"Error": {"Code": code, "Message": "no"}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(cast(Any, response), "Op")


def test_only_transient_errors_are_retried() -> None:
    assert is_transient(client_error("ThrottlingException", 400))
    assert is_transient(client_error("Anything", 503))
    assert is_transient(EndpointConnectionError(endpoint_url="http://x"))
    assert is_transient(httpx.ConnectError("refused"))
    assert not is_transient(client_error("ValidationError", 400))
    assert not is_transient(client_error("AccessDenied", 403))
    assert not is_transient(ValueError("bad input"))


def test_a_task_retries_a_throttle_but_not_a_validation_error(prefect_harness: None) -> None:
    calls: list[str] = []

    @task(**{**AWS_RETRIES, "retry_delay_seconds": 0, "retry_jitter_factor": None})
    def flaky(code: str) -> str:
        calls.append(code)
        if len(calls) < 3:
            raise client_error(code, 400)
        return "done"

    @flow
    def run(code: str) -> str:
        return flaky(code)

    assert run("ThrottlingException") == "done"
    assert calls == ["ThrottlingException"] * 3
    calls.clear()
    with pytest.raises(ClientError, match="ValidationError"):
        run("ValidationError")
    assert calls == ["ValidationError"]
