"""The application's smoke checks, as cloudops.toml describes them: what a deployed environment must answer (an
HTTP GET of its published AppEndpoint) or run (a one-off ECS task) before anyone approves it.

Pure models and rules over data (no network): the placeholders of an expected value, a dotted path into a JSON
body, and whether an answer matches. The verification engine (cloudops/verification.py) does the asking.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

# What an expected value may name: the release's, the stage's and the environment's own values.
PLACEHOLDERS = ("version", "commit", "application", "stage", "environment")
PRESENT = "*"  # an expected value meaning: the field is there and not empty
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class TaskCheck(BaseModel):
    """A one-off ECS task in the environment's cluster, from one of the release's images by digest; exit code 0
    passes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    image: str = Field(
        pattern=r"^[a-z0-9]+(?:[._/-][a-z0-9]+)*$",
        description="An image of the release, by role (app, broker, database) or by name (e.g. mysql).",
    )
    command: tuple[str, ...] = Field(min_length=1, description="The container's command; exit code 0 passes.")
    timeout_seconds: int = Field(default=300, ge=10, le=3600, description="How long the task may take.")


class SmokeCheck(BaseModel):
    """One smoke check of a kind of environment: an HTTP GET of a path, or a one-off task (exactly one)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(default="", max_length=100, description="Its name in reports; default: the path or command.")
    environment: str = Field(
        default="",
        pattern=r"^([a-z][a-z0-9-]*)?$",
        description=(
            "The environment it checks (e.g. author); empty: every environment of the kind (for a path, every one "
            "that publishes an AppEndpoint)."
        ),
    )
    path: str | None = Field(
        default=None, pattern=r"^/[^\s#]*$", description="The path to GET on the published AppEndpoint, e.g. /health."
    )
    status: int = Field(default=200, ge=100, le=599, description="The HTTP status the answer must have.")
    json_fields: dict[str, str] = Field(
        default_factory=dict,
        alias="json",
        description=(
            "Expected fields of the JSON body by dotted path (products.0.sku); a value may hold {version}, "
            "{commit}, {application}, {stage} or {environment}, or be * (present and not empty)."
        ),
    )
    timeout_seconds: float = Field(default=5.0, gt=0, le=60, description="How long one GET may take.")
    task: TaskCheck | None = Field(default=None, description="A one-off ECS task instead of a path.")

    @model_validator(mode="after")
    def _one_kind_of_check(self) -> SmokeCheck:
        if (self.path is None) == (self.task is None):
            raise ValueError("a smoke check has either a path (an HTTP GET) or a task (a one-off ECS task): give one")
        if self.task is not None and self.json_fields:
            raise ValueError("a task check passes on exit code 0 and has no json fields; remove json")
        for field, value in self.json_fields.items():
            if not field or any(not part for part in field.split(".")):
                raise ValueError(f"json field {field!r}: give a dotted path such as version or products.0.sku")
            unknown = [name for name in _PLACEHOLDER.findall(value) if name not in PLACEHOLDERS]
            if unknown:
                raise ValueError(
                    f"json.{field}: unknown placeholder {{{unknown[0]}}}; use "
                    f"{', '.join('{' + p + '}' for p in PLACEHOLDERS)}"
                )
        if not self.name:
            derived = self.path if self.task is None else f"{self.task.image}: {' '.join(self.task.command)}"
            object.__setattr__(self, "name", trim(str(derived), 100))  # frozen: set once, while it is made
        return self

    @property
    def is_http(self) -> bool:
        return self.path is not None


def substitute(expected: str, values: dict[str, str]) -> str:
    """``expected`` with its placeholders ({version}, ...) replaced by ``values``."""
    return _PLACEHOLDER.sub(lambda found: values.get(found.group(1), found.group(0)), expected)


_MISSING = object()


def lookup(body: Any, path: str) -> Any:
    """The value at a dotted ``path`` of a JSON body (a number indexes a list); ``_MISSING`` when absent."""
    current = body
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and re.fullmatch(r"-?\d+", part) and -len(current) <= int(part) < len(current):
            current = current[int(part)]
        else:
            return _MISSING
    return current


def as_text(value: Any) -> str:
    """A JSON value as the text an expected value is compared with: a string as it is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def field_mismatches(body: Any, expected: dict[str, str], values: dict[str, str]) -> list[str]:
    """What of ``expected`` the body does not hold, one phrase per field (empty: it matches)."""
    problems = []
    for path, wanted in expected.items():
        found = lookup(body, path)
        if found is _MISSING:
            problems.append(f"{path} is missing")
        elif wanted == PRESENT:
            if found in (None, "", [], {}):
                problems.append(f"{path} is empty ({as_text(found)})")
        elif as_text(found) != substitute(wanted, values):
            problems.append(f"{path} is {trim(as_text(found), 80)!r}, expected {substitute(wanted, values)!r}")
    return problems


def trim(text: str, length: int = 200) -> str:
    """``text`` on one line, cut to ``length`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= length else flat[: length - 3] + "..."
