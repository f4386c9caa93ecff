"""Waiting in tests for what arrives later (logs, events, states): polled, with a bound that names what is awaited."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(what: str, probe: Callable[[], T | None], bound: float = 90) -> T:
    """Poll ``probe`` until it returns something; fail naming ``what`` after ``bound`` seconds."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        time.sleep(0.5)
    raise AssertionError(f"{what}: not seen within {bound} s")
