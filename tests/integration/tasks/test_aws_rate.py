"""The AWS request rate ([limits] aws_requests_per_second): every request of the process, from any thread, passes
a Prefect rate limit per account; against moto and the session's Prefect server."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from prefect.client.orchestration import get_client

from cloudops.aws import call_gate
from cloudops.settings import Limits
from sandbox.sandbox import Sandbox
from tasks.aws_rate import RateGate, aws_limit_name
from tasks.shared_limits import ensure_limit

REQUESTS, PER_SECOND = 20, 4


@pytest.mark.reliability(
    "fault",
    f"{REQUESTS} AWS requests at once from 4 threads, the account's rate limit at {PER_SECOND} a second",
    "the requests wait their turn at the Prefect rate limit cloudops-aws-<account id>; every one answers",
)
def test_the_requests_of_every_thread_keep_to_the_accounts_rate(sandbox: Sandbox, prefect_harness: None) -> None:
    qa = sandbox.account("qa")
    sts = qa.client("sts")
    gate = RateGate(PER_SECOND)
    previous = call_gate.install(gate)
    try:
        started = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda _: sts.get_caller_identity()["Account"], range(REQUESTS)))
        elapsed = time.monotonic() - started
    finally:
        call_gate.install(previous)
        with get_client(sync_client=True) as client:
            limit = client.read_global_concurrency_limit_by_name(aws_limit_name(qa.account_id))
        default = Limits().aws_requests_per_second or 50  # what a configured rate would find, given back
        ensure_limit(aws_limit_name(qa.account_id), default, per_second=default)

    assert answers == [qa.account_id] * REQUESTS
    assert gate.batches_taken == REQUESTS // gate.batch  # each request passed the limit, none went round it
    # PER_SECOND slots at once, then PER_SECOND a second come back: the rest of the requests had to wait for them
    assert elapsed >= (REQUESTS - PER_SECOND) / PER_SECOND - 0.5
    assert (limit.limit, limit.slot_decay_per_second) == (PER_SECOND, PER_SECOND)
