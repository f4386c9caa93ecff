"""What a deployed endpoint answers, for the tests of the running stages: the status and the JSON body (status 0
and the error when nothing answers), never raising."""

from __future__ import annotations

import json
import urllib.request
from typing import Any


def get_json(url: str, timeout: float = 5) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return answer.status, json.loads(answer.read())
    except OSError as error:
        return 0, {"error": str(error)}
