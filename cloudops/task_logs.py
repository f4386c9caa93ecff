"""What a stage's tasks log: the CloudWatch Logs groups of the application's environments, read from the
templates of every kind of environment (their ``AWS::Logs::LogGroup`` and the containers' ``awslogs``
options); which group and stream prefix a ``STAGE [SERVICE]`` asks for (:func:`select`, pure); and their
lines since a time, read again and again without repeats (:class:`LogTail`).

A SERVICE is an environment (``author``: its group, every stream), a container (``app``: its streams in
every environment that has it) or both (``author/app``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from typing import Any

from cloudops import environment_kinds
from cloudops.aws import logs
from cloudops.aws.logs import LogEvent
from cloudops.aws.session import AccountSession
from cloudops.deploy import template_body
from cloudops.environment_kinds import StackSpec
from cloudops.errors import CloudOpsError

GROUP_ROOT = "/cloudops/"  # every template's log group is under it
# A line may reach its group a while after its time (the awslogs driver batches; so does the sandbox's): each read
# goes back this far before the newest line seen, and drops the lines it gave already.
LATE_SECONDS = 30
SINCE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class LogSelectionError(CloudOpsError):
    """A stage with no log groups, or a service that none of them has."""


@dataclass(frozen=True)
class LogSource:
    """One environment's log group and its containers' stream prefixes (ECS streams: prefix/container/task)."""

    environment: str
    group: str
    containers: dict[str, str] = field(default_factory=dict)  # container name -> awslogs-stream-prefix

    def stream_prefix(self, container: str) -> str:
        return f"{self.containers[container]}/{container}/"


@dataclass(frozen=True)
class LogQuery:
    """What to read: a group, and the streams of one container (None: all its streams)."""

    environment: str
    group: str
    stream_prefix: str | None = None


def _tagged(loader: Any, tag: str, node: Any) -> dict[str, Any]:
    """A CloudFormation short form (``!Sub x``, ``!Ref y``) as its long form (``{"Fn::Sub": x}``, ``{"Ref": y}``)."""
    import yaml

    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {"Ref" if tag == "Ref" else f"Fn::{tag}": value}


@cache
def _template(name: str) -> dict[str, Any]:
    import yaml

    class _Loader(yaml.SafeLoader):
        pass

    _Loader.add_multi_constructor("!", _tagged)
    document: dict[str, Any] = yaml.load(template_body(name), Loader=_Loader)  # a SafeLoader that keeps the tags
    return document


def _substitute(pattern: str, values: dict[str, str]) -> str | None:
    """A ``!Sub`` pattern with its ``${Name}`` filled; None when a name has no value."""
    names = re.findall(r"\$\{([^}]+)\}", pattern)
    if any(name not in values for name in names):
        return None
    return re.sub(r"\$\{([^}]+)\}", lambda m: values[m.group(1)], pattern)


def _stack_sources(spec: StackSpec, application: str, stage: str) -> list[LogSource]:
    template = _template(spec.template)
    given = {"application": application, "stage": stage, "environment": spec.environment}
    values = {name: str(p["Default"]) for name, p in (template.get("Parameters") or {}).items() if "Default" in p}
    values |= {parameter: given[value] for parameter, value in spec.parameters.items() if value in given}
    resources: dict[str, Any] = template.get("Resources") or {}
    sources = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Logs::LogGroup":
            continue
        name = (resource.get("Properties") or {}).get("LogGroupName")
        pattern = name.get("Fn::Sub") if isinstance(name, dict) else name
        group = _substitute(pattern, values) if isinstance(pattern, str) else None
        if group is None:
            continue  # a group named by something other than the parameters: not ours to find
        containers = {
            str(container["Name"]): str(options["awslogs-stream-prefix"])
            for task in resources.values()
            if task.get("Type") == "AWS::ECS::TaskDefinition"
            for container in (task.get("Properties") or {}).get("ContainerDefinitions", [])
            for options in [(container.get("LogConfiguration") or {}).get("Options") or {}]
            if options.get("awslogs-group") == {"Ref": logical_id} and "awslogs-stream-prefix" in options
        }
        sources.append(LogSource(spec.environment, group, containers))
    return sources


def log_sources(application: str, stage: str) -> list[LogSource]:
    """Every log group any kind of environment of ``application`` makes in ``stage``, with its containers."""
    found: dict[str, LogSource] = {}
    for kind in environment_kinds.REGISTRY:
        for spec in kind.stacks:
            for source in _stack_sources(spec, application, stage):
                found.setdefault(source.group, source)
    return list(found.values())


def service_names(sources: list[LogSource]) -> list[str]:
    """What a SERVICE may be, given these groups: each environment, each container, each environment/container."""
    environments = [s.environment for s in sources]
    containers = list(dict.fromkeys(c for s in sources for c in s.containers))
    qualified = [f"{s.environment}/{c}" for s in sources for c in s.containers]
    return list(dict.fromkeys([*environments, *containers, *qualified]))


def select(sources: list[LogSource], existing: set[str], stage: str, service: str | None = None) -> list[LogQuery]:
    """The groups (and stream prefix) that ``stage [service]`` asks for, among the groups that exist."""
    present = [s for s in sources if s.group in existing]
    if not present:
        looked = ", ".join(s.group for s in sources)
        raise LogSelectionError(
            f"stage {stage!r} has no log groups of the application (looked for {looked}); deploy an environment "
            f"there first (`cloudops promote VERSION --to {stage} --deploy KIND`)"
        )
    if service is None:
        return [LogQuery(s.environment, s.group) for s in present]
    environment, _, container = service.rpartition("/") if "/" in service else (service, "", "")
    queries = [LogQuery(s.environment, s.group) for s in present if not container and s.environment == environment]
    if not queries:  # a container in every environment that has it, or one environment's container
        wanted = container or service
        queries = [
            LogQuery(s.environment, s.group, s.stream_prefix(wanted))
            for s in present
            if wanted in s.containers and (not container or s.environment == environment)
        ]
    if not queries:
        raise LogSelectionError(
            f"stage {stage!r} has no service {service!r}; use one of {', '.join(service_names(present))} "
            "(or none, for all of them)"
        )
    return queries


def parse_since(text: str) -> timedelta:
    """``--since`` as a duration: a number and a unit, s, m, h or d ("10m", "90s", "2h")."""
    found = re.fullmatch(r"\s*(\d+)\s*([smhd])\s*", text)
    if found is None or int(found.group(1)) == 0:
        raise LogSelectionError(f"--since {text!r} is not a duration; give a number and s, m, h or d, e.g. 10m or 2h")
    return timedelta(seconds=int(found.group(1)) * SINCE_UNITS[found.group(2)])


def queries_for(account: AccountSession, application: str, stage: str, service: str | None) -> list[LogQuery]:
    """What ``stage [service]`` asks for, among the log groups the stage's account holds."""
    existing = set(logs.log_groups(account, GROUP_ROOT))
    return select(log_sources(application, stage), existing, stage, service)


@dataclass(frozen=True)
class TaskLogLine:
    environment: str
    event: LogEvent


class LogTail:
    """The lines of the queried groups since ``start_time`` (ms since the epoch); each :meth:`read` gives the
    lines that arrived since the one before, each line once, oldest first."""

    def __init__(self, account: AccountSession, queries: list[LogQuery], start_time: int) -> None:
        self.account = account
        self.queries = queries
        self.start_time = start_time
        self.given: set[tuple[str, str, int, str, str]] = set()

    def read(self) -> list[TaskLogLine]:
        found = [
            TaskLogLine(query.environment, event)
            for query in self.queries
            for event in logs.log_events(
                self.account, query.group, start_time=self.start_time, stream_prefix=query.stream_prefix
            )
        ]
        found.sort(key=lambda line: (line.event, line.environment))
        new = [line for line in found if _key(line) not in self.given]
        if found:
            self.start_time = max(self.start_time, found[-1].event.timestamp - LATE_SECONDS * 1000)
        self.given = {_key(line) for line in found if line.event.timestamp >= self.start_time}
        return new


def _key(line: TaskLogLine) -> tuple[str, str, int, str, str]:
    event = line.event
    return (line.environment, event.stream, event.timestamp, event.event_id, event.message)
