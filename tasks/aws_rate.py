"""The AWS request rate of every run on the Prefect server, per account (``[limits] aws_requests_per_second``): a
Prefect rate limit (a global concurrency limit whose slots come back on their own) named cloudops-aws-<account id>,
passed by every request the flows' AWS clients send (cloudops/aws/call_gate.py), retries included.

A process takes its slots a fifth of the rate at a time, so the Prefect server is asked once per batch, not once
per AWS request. Unreachable, the limit lets the
request go (said once in the log): a rate is a courtesy to AWS, not a reason to fail a deploy half-way.
"""

from __future__ import annotations

import logging
import threading

from prefect.concurrency.sync import rate_limit

from cloudops.aws import call_gate
from tasks.shared_limits import ensure_limit

AWS_LIMIT_PREFIX = "cloudops-aws-"
logger = logging.getLogger("cloudops.aws_rate")


def aws_limit_name(account_id: str) -> str:
    return f"{AWS_LIMIT_PREFIX}{account_id}"


class RateGate:
    """The gate of this process: ``per_second`` requests a second per account, across every run."""

    def __init__(self, per_second: int) -> None:
        self.per_second = per_second
        self.batch = max(1, per_second // 5)
        self.batches_taken = 0
        self._left: dict[str, int] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._ensured: set[str] = set()
        self._lock = threading.Lock()
        self._warned = False

    def __call__(self, account_id: str) -> None:
        with self._lock:
            lock = self._locks.setdefault(account_id, threading.Lock())
        with lock:  # one account's requests wait in turn; another account's do not wait for them
            if self._left.get(account_id, 0) == 0:
                self._take(account_id)
            self._left[account_id] -= 1

    def _take(self, account_id: str) -> None:
        name = aws_limit_name(account_id)
        try:
            if account_id not in self._ensured:
                ensure_limit(name, self.per_second, per_second=self.per_second)
                self._ensured.add(account_id)
            rate_limit(name, occupy=self.batch, strict=True)
            self.batches_taken += 1
        except Exception as error:  # the Prefect server unreachable, say: the request goes
            if not self._warned:
                self._warned = True
                logger.warning("the AWS request rate limit %s is not held (%s): requests go unlimited", name, error)
        self._left[account_id] = self.batch


def hold_aws_rate(per_second: int) -> RateGate:
    """Make this process's AWS requests keep to ``per_second`` per account; the gate (kept when it already is)."""
    current = call_gate.installed()
    if isinstance(current, RateGate) and current.per_second == per_second:
        return current
    gate = RateGate(per_second)
    call_gate.install(gate)
    return gate
