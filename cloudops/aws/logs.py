"""The CloudWatch Logs adapter: an account's log groups, and the events of one group since a time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cloudops.aws.errors import aws_call
from cloudops.aws.session import AccountSession


@dataclass(frozen=True, order=True)
class LogEvent:
    """One line a task logged: when (milliseconds since the epoch), in which stream, and what."""

    timestamp: int
    stream: str
    message: str
    event_id: str = ""


def log_groups(account: AccountSession, prefix: str) -> list[str]:
    """The names of the account's log groups that start with ``prefix``, sorted."""
    found: list[str] = []
    with aws_call(f"listing the log groups {prefix}* of account {account.account_id}"):
        paginator = account.client("logs").get_paginator("describe_log_groups")
        for page in paginator.paginate(logGroupNamePrefix=prefix):
            found += [str(group["logGroupName"]) for group in page["logGroups"]]
    return sorted(found)


def log_events(
    account: AccountSession, group: str, *, start_time: int, stream_prefix: str | None = None
) -> list[LogEvent]:
    """The events of ``group`` (only its streams that start with ``stream_prefix``, when given) at or after
    ``start_time`` (milliseconds since the epoch), oldest first."""
    arguments: dict[str, Any] = {"logGroupName": group, "startTime": start_time}
    if stream_prefix:
        arguments["logStreamNamePrefix"] = stream_prefix
    found: list[LogEvent] = []
    with aws_call(
        f"reading the log events of {group} in account {account.account_id}",
        fix="check the group exists (`cloudops logs STAGE` lists the stage's) and the role may logs:FilterLogEvents",
    ):
        paginator = account.client("logs").get_paginator("filter_log_events")
        for page in paginator.paginate(**arguments):
            found += [
                LogEvent(int(e["timestamp"]), str(e["logStreamName"]), str(e["message"]), str(e.get("eventId", "")))
                for e in page["events"]
            ]
    return sorted(found)
