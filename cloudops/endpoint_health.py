"""Whether a published endpoint answers: its ``/health`` asked once, the answer put in a few words."""

from __future__ import annotations

HEALTH_PATH = "/health"


def health_text(endpoint: str, timeout: float = 5.0) -> str:
    """``answers 200, version X (commit Y)`` or ``does not answer: <why>``, for a person reading the output."""
    import httpx  # here: the command line imports this module at every start

    url = endpoint.rstrip("/") + HEALTH_PATH
    try:
        answer = httpx.get(url, timeout=timeout)
    except httpx.HTTPError as error:
        return f"does not answer at {url}: {type(error).__name__}"
    text = f"answers {answer.status_code}"
    try:
        body = answer.json()
    except ValueError:
        return text
    if isinstance(body, dict) and body.get("version"):
        commit = str(body.get("commit", ""))[:12]
        text += f", version {body['version']}" + (f" (commit {commit})" if commit else "")
    return text
