"""Whether a published endpoint answers: its ``/health`` asked once, the answer put in a few words."""

from __future__ import annotations

import time

HEALTH_PATH = "/health"


# What a load balancer says while no target is healthy yet (a deploy's new tasks are still starting).
NOT_YET = frozenset({502, 503, 504})


def health_text(endpoint: str, timeout: float = 5.0, wait: float = 0.0) -> str:
    """``answers 200, version X (commit Y)`` or ``does not answer: <why>``, for a person reading the output.

    With ``wait``, it asks again for up to that many seconds while nothing answers or the load balancer has no
    healthy target yet (a stage deployed a moment ago)."""
    import httpx  # here: the command line imports this module at every start

    url = endpoint.rstrip("/") + HEALTH_PATH
    deadline = time.monotonic() + wait
    while True:
        try:
            answer = httpx.get(url, timeout=timeout)
        except httpx.HTTPError as error:
            if time.monotonic() < deadline:
                time.sleep(1.0)
                continue
            return f"does not answer at {url}: {type(error).__name__}"
        if answer.status_code in NOT_YET and time.monotonic() < deadline:
            time.sleep(1.0)
            continue
        break
    text = f"answers {answer.status_code}"
    try:
        body = answer.json()
    except ValueError:
        return text
    if isinstance(body, dict) and body.get("version"):
        commit = str(body.get("commit", ""))[:12]
        text += f", version {body['version']}" + (f" (commit {commit})" if commit else "")
    return text
