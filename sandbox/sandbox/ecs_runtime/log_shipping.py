"""The ``awslogs`` log driver of the sandbox's ECS runtime: each task container's stdout and stderr, shipped
into moto's CloudWatch Logs (in this, moto's, process) in the group its task definition names, stream
``<prefix>/<container>/<task id>`` as ECS names it, with the times Docker read the lines at.

One follower thread per running container (or one created and about to start: it waits for the start) reads
Docker's log stream (``follow``) and ends when the container stops; one flusher thread writes what they read in
batches, at most once a second. Both block on a socket or a condition while nothing is logged: an idle shipper
costs no CPU. A container whose group is missing is not
followed (ECS refuses to start such a task: ``definitions.aws_logs``), and is tried again the next round.

The runtime restarting (a new moto process while the containers run) finds the containers again by their
labels and re-attaches each from the last event its stream holds (``since``), dropping the lines shipped
already: moto keeps its groups and streams across a restart (sandbox/sandbox/moto_state.py). NOTE: a moto killed
outright loses the events since its last clean stop; a container's stream then gets its whole log again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import docker
from docker.errors import APIError, NotFound
from moto.logs.models import logs_backends

from sandbox.ecs_runtime.definitions import ACCOUNT_LABEL
from sandbox.ecs_runtime.networks import ECS_LABEL_VALUE, SANDBOX_LABEL
from sandbox.ecs_runtime.task_specs import AwsLogs
from sandbox.ecs_runtime.task_states import AWSLOGS, CONTAINER, ROLE, TASK

FLUSH_SECONDS = 1.0  # a batch collects this long after its first line, then goes to moto at once
# A container seen between its task's create and start is followed once it starts: its log, read before, is empty
FOLLOWED_STATES = frozenset({"created", "running"})
START_WAIT_SECONDS = 300.0  # a container created and never started (its task failed) is given up after this
LOG = logging.getLogger("sandbox.ecs_runtime.logs")


@dataclass(frozen=True)
class Destination:
    """Where one container's lines go: a stream of a group in an account's region."""

    account: str
    region: str
    group: str
    stream: str


@dataclass(frozen=True)
class Event:
    timestamp: int  # milliseconds since the epoch, as CloudWatch Logs keeps them
    message: str


def docker_line(line: bytes) -> Event | None:
    """A line of ``docker logs --timestamps`` ("2024-05-01T12:34:56.123456789Z message") as an event."""
    text = line.decode("utf-8", errors="replace").rstrip("\r\n")
    stamp, _, message = text.partition(" ")
    try:
        seconds, _, fraction = stamp.rstrip("Z").partition(".")
        when = datetime.strptime(seconds, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    millis = int((fraction + "000")[:3]) if fraction.isdigit() else 0
    return Event(int(when.timestamp()) * 1000 + millis, message)


def lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Whole lines from Docker's frames (a long line comes in several, a frame may hold several lines)."""
    rest = b""
    for chunk in chunks:
        rest += chunk
        *complete, rest = rest.split(b"\n")
        yield from complete
    if rest:
        yield rest


def shipped_until(destination: Destination) -> tuple[int, set[str]] | None:
    """The time of the last event the stream holds and the messages at that time; None for a stream with none."""
    group = logs_backends[destination.account][destination.region].groups.get(destination.group)
    stream = group.streams.get(destination.stream) if group is not None else None
    if stream is None or not stream.events:
        return None
    last = max(event.timestamp for event in stream.events)
    return last, {event.message for event in stream.events if event.timestamp == last}


def shipped_before(event: Event, last: int, messages_then: set[str]) -> bool:
    """Whether a line read again after a restart is in its stream already: older than its last event, or as old
    and the same line. NOTE: a line repeated within that millisecond is dropped with it."""
    return event.timestamp < last or (event.timestamp == last and event.message in messages_then)


def write(destination: Destination, events: list[Event]) -> None:
    """Put the events into their stream (created when missing); dropped when the group is gone."""
    backend = logs_backends[destination.account][destination.region]
    if destination.group not in backend.groups:
        LOG.info("ECS runtime: log group %s is gone; %d lines dropped", destination.group, len(events))
        return
    backend.ensure_log_stream(destination.group, destination.stream)
    ordered = sorted(events, key=lambda e: e.timestamp)  # PutLogEvents takes a batch in chronological order
    backend.put_log_events(
        destination.group, destination.stream, [{"timestamp": e.timestamp, "message": e.message} for e in ordered]
    )


class Outbox:
    """Lines waiting for moto, written by one thread in batches; it waits without a timeout while none wait."""

    def __init__(self) -> None:
        self.pending: dict[Destination, list[Event]] = {}
        self.ready = threading.Condition()
        threading.Thread(target=self.run, name="sandbox-ecs-logs-flush", daemon=True).start()

    def add(self, destination: Destination, event: Event) -> None:
        with self.ready:
            self.pending.setdefault(destination, []).append(event)
            self.ready.notify()

    def run(self) -> None:
        while True:
            with self.ready:
                while not self.pending:
                    self.ready.wait()
            time.sleep(FLUSH_SECONDS)  # let the batch fill
            with self.ready:
                batch, self.pending = self.pending, {}
            for destination, events in batch.items():
                try:
                    write(destination, events)
                except Exception:  # one stream's trouble must not stop the others' shipping
                    LOG.exception("ECS runtime: lines of %s could not be shipped", destination.stream)


def destination(labels: dict[str, str]) -> Destination | None:
    """Where a runtime container's output goes, from its labels; None for one without ``awslogs``."""
    if AWSLOGS not in labels or ACCOUNT_LABEL not in labels:
        return None
    logs = AwsLogs.model_validate_json(labels[AWSLOGS])
    return Destination(labels[ACCOUNT_LABEL], logs.region, logs.group, logs.stream(labels[CONTAINER], labels[TASK]))


class LogShipper:
    """Ships the output of every container the runtime runs; :meth:`sync` each round attaches to new ones."""

    def __init__(self, labels: dict[str, str] | None = None) -> None:
        # the containers it ships: the runtime's own, a service's or a RunTask task's
        self.labels = labels or {SANDBOX_LABEL: ECS_LABEL_VALUE}
        self.outbox = Outbox()
        self.followed: set[str] = set()  # container ids being (or done being) shipped
        self.lock = threading.Lock()

    def sync(self, client: docker.DockerClient, docker_host: str) -> None:
        """Follow each runtime container not followed yet; an exited one's log is shipped at once (before the
        round reaps its task and removes it). Never fails the round: what it missed, the next round attaches."""
        try:
            self.attach(client, docker_host)
        except Exception:
            LOG.exception("ECS runtime: attaching the log shipper failed")

    def attach(self, client: docker.DockerClient, docker_host: str) -> None:
        wanted = {"label": [*(f"{k}={v}" for k, v in self.labels.items()), f"{ROLE}=container", AWSLOGS]}
        found = client.containers.list(all=True, filters=wanted, sparse=True)
        present = {str(c.id) for c in found}
        with self.lock:
            self.followed &= present  # forget removed containers
        for container in found:
            labels: dict[str, str] = container.attrs.get("Labels") or {}
            target = destination(labels)
            with self.lock:
                if target is None or container.id in self.followed:
                    continue
            if not logs_backend_has(target):
                continue  # ECS would not have started it; the stack (its group) may come back
            with self.lock:
                self.followed.add(str(container.id))
            if container.attrs.get("State") in FOLLOWED_STATES:
                threading.Thread(
                    target=self.follow,
                    args=(docker_host, str(container.id), target),
                    name=f"sandbox-ecs-logs-{labels[CONTAINER]}",
                    daemon=True,
                ).start()
            else:
                self.ship(client, str(container.id), target, follow=False)

    def follow(self, docker_host: str, container_id: str, target: Destination) -> None:
        client = docker.DockerClient(base_url=docker_host, timeout=None)  # a stream that waits for lines
        try:
            if started(client, container_id):
                self.ship(client, container_id, target, follow=True)
        finally:
            client.close()

    def ship(self, client: docker.DockerClient, container_id: str, target: Destination, *, follow: bool) -> None:
        """Read the container's log (to its end, or until it stops) into the outbox, from after what its stream
        holds already."""
        until = shipped_until(target)
        since: dict[str, Any] = {"since": until[0] // 1000} if until and until[0] >= 1000 else {}
        try:
            chunks = client.api.logs(container_id, stream=True, follow=follow, timestamps=True, **since)
            for line in lines(chunks):
                event = docker_line(line)
                if event is None:
                    continue
                if until and shipped_before(event, *until):
                    continue
                self.outbox.add(target, event)
        except (NotFound, APIError) as error:  # removed meanwhile: what was read is shipped
            LOG.info("ECS runtime: the log of %s ended early: %s", target.stream, error)
        except Exception:  # a follower must end quietly, whatever Docker's stream did
            LOG.exception("ECS runtime: following the log of %s failed", target.stream)


def started(client: docker.DockerClient, container_id: str) -> bool:
    """Wait while the container is created but not started yet (its task starts it a moment later: Docker's log
    of a container not started ends at once, with nothing); False for one removed meanwhile or never started."""
    deadline = time.monotonic() + START_WAIT_SECONDS
    while time.monotonic() < deadline:
        try:
            state = client.api.inspect_container(container_id)["State"]["Status"]
        except (NotFound, APIError):
            return False
        if state != "created":
            return True
        time.sleep(0.2)
    return False


def logs_backend_has(target: Destination) -> bool:
    return target.group in logs_backends[target.account][target.region].groups
