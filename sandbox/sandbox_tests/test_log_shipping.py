"""The ECS runtime's awslogs driver on the sandbox's real dockerd, into moto's CloudWatch Logs backend (in this
process, as in moto's own): a task container's stdout and stderr land in its stream, with Docker's times, and a
shipper started again (the runtime restarted) goes on from where its stream ends, without repeats."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from moto.logs.models import logs_backends

from sandbox.ecs_runtime.docker_tasks import create_container, pull, start_holder, start_task, stop_task
from sandbox.ecs_runtime.log_shipping import Destination, LogShipper, docker_line, lines
from sandbox.ecs_runtime.task_specs import AwsLogs
from tests.docker_clusters import RUN, Cluster
from tests.polling import eventually

ACCOUNT, REGION = "222222222222", "eu-west-1"  # the task's account label (Cluster.task), a region of its own


@pytest.fixture
def group() -> Iterator[str]:
    name = f"/cloudops/test-{uuid.uuid4().hex[:8]}/qa/author"
    backend = logs_backends[ACCOUNT][REGION]
    backend.create_log_group(name, {})
    yield name
    backend.delete_log_group(name)


def messages(group: str, stream: str) -> list[str]:
    """The stream's messages in time order; the first two (stdout's ``one`` and stderr's ``two``, printed in the
    same instant) as a sorted pair: Docker copies each stream on its own and stamps a line when it reads it, so
    on a busy machine stderr's line can be stamped first."""
    found = logs_backends[ACCOUNT][REGION].groups[group].streams.get(stream)
    ordered = [e.message for e in sorted(found.events, key=lambda e: e.timestamp)] if found else []
    return sorted(ordered[:2]) + ordered[2:]


def test_docker_s_timestamped_lines_become_events_in_milliseconds() -> None:
    assert docker_line(b"2026-05-01T12:34:56.123456789Z commerce 1.0 listening\n") == (
        docker_line(b"2026-05-01T12:34:56.1239Z commerce 1.0 listening")
    )
    event = docker_line(b"2026-05-01T12:34:56.1Z a b  c")
    assert event is not None and event.message == "a b  c"
    assert event.timestamp == int(datetime(2026, 5, 1, 12, 34, 56, tzinfo=UTC).timestamp()) * 1000 + 100
    assert docker_line(b"2026-05-01T12:34:56Z whole second").timestamp % 1000 == 0  # type: ignore[union-attr]
    assert list(lines([b"one\ntw", b"o\n", b"three"])) == [b"one", b"two", b"three"]  # frames are not lines


def test_a_container_s_output_lands_in_its_stream_and_a_restarted_shipper_repeats_nothing(
    cluster: Cluster,
    group: str,  # noqa: F811  # the fixture
) -> None:
    # Given a task whose container prints to stdout and stderr, a line at a time, and keeps running
    script = "echo one; echo two >&2; sleep 4; echo three; sleep 4; echo four; exec sleep 300"
    logs = AwsLogs(group=group, region=REGION, stream_prefix="app")
    spec = cluster.task(cluster.shell("app", script, logs=logs))
    before = datetime.now(UTC).timestamp() * 1000
    assert start_task(cluster.engine, spec).last_status == "RUNNING"
    stream = f"app/app/{spec.task_id}"  # <prefix>/<container>/<task id>, as ECS names it
    container = cluster.engine.containers.get(f"cloudops-ecs-{spec.task_id}-app")
    target = Destination(ACCOUNT, REGION, group, stream)
    try:
        # When a shipper read what the container had printed, and stopped there (its runtime died)
        first = LogShipper(labels={RUN: cluster.run})
        eventually("one and two printed", lambda: b"two" in container.logs() or None, bound=10)
        first.ship(cluster.engine, str(container.id), target, follow=False)
        eventually("one and two shipped", lambda: messages(group, stream) == ["one", "two"] or None, bound=30)

        # Then another shipper (the runtime started again) finds the container and follows it from there on
        second = LogShipper(labels={RUN: cluster.run})
        second.sync(cluster.engine, cluster.sandbox.state.docker_host)
        everything = ["one", "two", "three", "four"]
        eventually("three and four shipped", lambda: messages(group, stream) == everything or None, bound=30)
        second.sync(cluster.engine, cluster.sandbox.state.docker_host)  # a later round attaches nothing again
        events = logs_backends[ACCOUNT][REGION].groups[group].streams[stream].events
        assert before - 1000 <= min(e.timestamp for e in events) <= max(e.timestamp for e in events)
        assert max(e.timestamp for e in events) - min(e.timestamp for e in events) >= 7000  # Docker's times, not ours
    finally:
        stop_task(cluster.engine, spec.task_id, "test over", timeout=1)
    assert messages(group, stream) == everything  # nothing twice


def test_a_container_whose_group_is_missing_is_not_followed(cluster: Cluster) -> None:  # noqa: F811
    logs = AwsLogs(group=f"/cloudops/missing-{uuid.uuid4().hex[:8]}", region=REGION, stream_prefix="app")
    spec = cluster.task(cluster.shell("app", "echo lost; exec sleep 300", logs=logs))
    start_task(cluster.engine, spec)
    try:
        shipper = LogShipper(labels={RUN: cluster.run})
        shipper.sync(cluster.engine, cluster.sandbox.state.docker_host)
        assert shipper.followed == set()  # tried again at the next round, once the group exists
    finally:
        stop_task(cluster.engine, spec.task_id, "test over", timeout=1)


def test_a_container_seen_before_its_start_is_followed_once_it_starts(
    cluster: Cluster,
    group: str,  # noqa: F811  # the fixture
) -> None:
    # Given a task's container the runtime's round lists between its create and its start (a loaded machine)
    logs = AwsLogs(group=group, region=REGION, stream_prefix="app")
    spec = cluster.task(cluster.shell("app", "echo started; exec sleep 300", logs=logs))
    # (pulled first, as start_task pulls: the probe image is in QA's registry, and on the engine only once a task
    # of an earlier test pulled it, which in a random order may be none)
    assert pull(cluster.engine, spec, cluster.image) is None
    holder = start_holder(cluster.engine, spec)
    created = create_container(cluster.engine, spec, spec.containers[0], holder)
    try:
        assert cluster.engine.api.inspect_container(created)["State"]["Status"] == "created"
        shipper = LogShipper(labels={RUN: cluster.run})
        shipper.sync(cluster.engine, cluster.sandbox.state.docker_host)
        assert shipper.followed == {created}
        # When it starts, after the shipper saw it
        cluster.engine.api.start(created)
        # Then its first line is shipped (not an empty log read before the start, and the container never again)
        stream = f"app/app/{spec.task_id}"
        eventually("the line printed after the start", lambda: messages(group, stream) == ["started"] or None, 30)
    finally:
        stop_task(cluster.engine, spec.task_id, "test over", timeout=1)
