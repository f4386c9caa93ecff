"""Retries: throttling, 5xx and dropped connections are retried; validation errors fail at once.

AWS errors reach the retry condition as our types: the adapters translate botocore's at the boundary
(``cloudops.aws.errors.translate``), so the condition reads no botocore class.
"""

from __future__ import annotations

from typing import Any, cast

import httpx
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from prefect import flow, task

from cloudops.aws.errors import translate
from cloudops.errors import AwsError, AwsTransientError, CloudOpsError, TransientError
from tasks.retry import AWS_RETRIES, is_transient


def aws_error(code: str, status: int) -> CloudOpsError:
    """What an adapter raises when AWS answers ``code`` with HTTP ``status``."""
    response = {"Error": {"Code": code, "Message": "no"}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return translate(ClientError(cast(Any, response), "Op"), "the call")


def test_only_transient_errors_are_retried() -> None:
    assert is_transient(aws_error("ThrottlingException", 400))
    assert is_transient(aws_error("Anything", 503))
    assert is_transient(translate(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), "the call"))
    assert is_transient(TransientError("push failed, worth a retry"))
    assert is_transient(httpx.ConnectError("refused"))
    assert not is_transient(aws_error("ValidationError", 400))
    assert not is_transient(aws_error("AccessDenied", 403))
    assert not is_transient(ValueError("bad input"))


def test_a_task_retries_a_throttle_but_not_a_validation_error(prefect_harness: None) -> None:
    calls: list[str] = []

    @task(**{**AWS_RETRIES, "retry_delay_seconds": 0, "retry_jitter_factor": None})
    def flaky(code: str) -> str:
        calls.append(code)
        if len(calls) < 3:
            raise aws_error(code, 400)
        return "done"

    @flow
    def run(code: str) -> str:
        return flaky(code)

    assert isinstance(aws_error("ThrottlingException", 400), AwsTransientError)
    assert run("ThrottlingException") == "done"
    assert calls == ["ThrottlingException"] * 3
    calls.clear()
    with pytest.raises(AwsError, match="ValidationError"):
        run("ValidationError")
    assert calls == ["ValidationError"]
