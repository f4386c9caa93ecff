"""The gate every AWS request of this process passes before it is sent (each attempt: a retry is a request too).

The adapters know no orchestration: whoever runs them (the flows' tasks, tasks/aws_rate.py) may install a gate,
a callable given the account's id, which blocks until that account may be sent one more request. No gate: no
wait. The gate is called from botocore's ``before-send`` event, in whichever thread makes the request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

CallGate = Callable[[str], None]

_gate: CallGate | None = None
_lock = threading.Lock()


def install(gate: CallGate | None) -> CallGate | None:
    """Make ``gate`` this process's gate (None: none); the gate it replaces."""
    global _gate
    with _lock:
        previous, _gate = _gate, gate
    return previous


def installed() -> CallGate | None:
    return _gate


def before_send(account_id: str) -> Callable[..., None]:
    """A ``before-send`` handler for the clients of ``account_id``: passes the gate, never answers in the request's
    place (a handler that returned something would be taken as the response)."""

    def handler(**_: Any) -> None:
        gate = _gate
        if gate is not None:
            gate(account_id)

    return handler
