"""moto's CloudWatch Logs made to honour ``FilterLogEvents``'s ``logStreamNamePrefix``.

Read in moto 5.2.5's source: ``LogsResponse.filter_log_events`` never reads the parameter, so a filter by
stream prefix (``app/`` of an ECS service's streams) answers every stream of the group. The fix narrows the
streams to those whose names start with the prefix (none: no events), as CloudWatch Logs does; the rest of
the call is moto's. Pinned by sandbox/sandbox_tests/test_task_logs.py.
"""

from __future__ import annotations

import json
from typing import Any

from moto.logs.responses import LogsResponse


def filter_log_events(self: Any) -> str:
    group = self._get_param("logGroupName")
    names = self._get_param("logStreamNames", [])
    prefix = self._get_param("logStreamNamePrefix")
    known = self.logs_backend.groups.get(group)
    if prefix and not names and known is not None:  # a missing group: moto's own ResourceNotFoundException
        names = [name for name in known.streams if name.startswith(prefix)]
        if not names:
            return json.dumps({"events": [], "searchedLogStreams": []})
    events, next_token, searched = self.logs_backend.filter_log_events(
        group,
        names,
        self._get_param("startTime"),
        self._get_param("endTime"),
        self._get_param("limit"),
        self._get_param("nextToken"),
        self._get_param("filterPattern"),
        self._get_param("interleaved", False),
    )
    return json.dumps({"events": events, "nextToken": next_token, "searchedLogStreams": searched})


def apply() -> None:
    LogsResponse.filter_log_events = filter_log_events  # type: ignore[method-assign]  # the fix itself
