"""Which log groups and streams `cloudops logs STAGE [SERVICE]` reads: from the templates, among those that exist."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cloudops.task_logs import LogQuery, LogSelectionError, log_sources, parse_since, select

SOURCES = log_sources("commerce", "qa")
AUTHOR, LIVE = "/cloudops/commerce/qa/author", "/cloudops/commerce/qa/live"


def test_every_kind_of_environment_names_its_group_and_its_containers_stream_prefixes() -> None:
    found = {s.group: (s.environment, s.containers) for s in SOURCES}
    assert found == {
        AUTHOR: ("author", {"app": "app", "broker": "broker"}),
        LIVE: ("live", {"app": "app", "broker": "broker"}),
        "/cloudops/commerce/qa/single-instance": (
            "single-instance",
            {"mysql": "mysql", "broker": "broker", "app": "app"},
        ),
        # its Application parameter's default; its one-off task fills the authorities
        "/cloudops/lookup/qa": ("lookup", {"mysql": "mysql", "app": "app", "fill": "authorities-fill"}),
    }


def test_a_stage_alone_reads_every_group_it_has() -> None:
    assert select(SOURCES, {AUTHOR, LIVE, "/cloudops/other/qa/author"}, "qa") == [
        LogQuery("author", AUTHOR),
        LogQuery("live", LIVE),
    ]


def test_a_service_is_an_environment_a_container_or_both() -> None:
    existing = {AUTHOR, LIVE}
    assert select(SOURCES, existing, "qa", "live") == [LogQuery("live", LIVE)]
    assert select(SOURCES, existing, "qa", "app") == [
        LogQuery("author", AUTHOR, "app/app/"),
        LogQuery("live", LIVE, "app/app/"),
    ]
    assert select(SOURCES, existing, "qa", "author/broker") == [LogQuery("author", AUTHOR, "broker/broker/")]


def test_a_service_the_stage_does_not_run_is_a_one_line_error_that_lists_those_it_does() -> None:
    with pytest.raises(LogSelectionError) as raised:
        select(SOURCES, {AUTHOR, LIVE}, "qa", "mysql")
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("stage 'qa' has no service 'mysql'; use one of author, live, app, broker, author/app")
    with pytest.raises(LogSelectionError, match="no service 'single-instance/app'"):
        select(SOURCES, {AUTHOR}, "qa", "single-instance/app")


def test_a_stage_with_nothing_deployed_says_so_and_how_to_deploy() -> None:
    with pytest.raises(LogSelectionError, match=r"'prod' has no log groups .*`cloudops promote VERSION --to prod"):
        select(log_sources("commerce", "prod"), {AUTHOR}, "prod")


def test_since_is_a_number_and_a_unit() -> None:
    assert parse_since("10m") == timedelta(minutes=10)
    assert parse_since("90s") == timedelta(seconds=90)
    assert parse_since("2h") == timedelta(hours=2)
    for bad in ("10", "ten minutes", "0m", "-5m"):
        with pytest.raises(LogSelectionError, match="is not a duration; give a number and s, m, h or d"):
            parse_since(bad)
