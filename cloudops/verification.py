"""Whether a deploy works, before anyone approves it: its services steady on the task definitions its stacks
deployed, their load balancer targets healthy, the application's smoke checks answered, and (when the stage
soaks) all of that holding for a while.

:func:`verify` always returns a :class:`Verification`; a failed check is a result, never an exception. The
decisions (is a service steady, are its targets healthy, does an answer match) are pure functions over what AWS
and the endpoint answered; the loop around them polls, within the kind's verification timeout.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict

from cloudops import audit
from cloudops.aws import cloudformation, ecs, elbv2
from cloudops.aws.session import AccountSession
from cloudops.deploy import APP_ENDPOINT, StackOutcome
from cloudops.environment_kinds import EnvironmentKind
from cloudops.errors import CloudOpsError, TransientError
from cloudops.image_roles import ImageRoles
from cloudops.release import Release
from cloudops.settings import Stage
from cloudops.smoke_checks import SmokeCheck, field_mismatches, trim

CLUSTER_OUTPUT = "ClusterName"
TASK_DEFINITION = "AWS::ECS::TaskDefinition"
POLL_SECONDS = 3.0
HTTP_RETRY_SECONDS = 30.0  # an endpoint not answering as expected is asked again for this long (worth_asking_again)
HTTP_RETRY_EVERY = 3.0
CHECK_CONTAINER = "check"
# Target states that say nothing about the service's health now: a task leaving its load balancer.
IGNORED_TARGETS = frozenset({"draining"})

Log = Callable[[str], None]
T = TypeVar("T")


class CheckResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    passed: bool
    detail: str
    at: datetime


class Verification(BaseModel):
    """What a deploy's verification found: every check, in the order they ran."""

    model_config = ConfigDict(frozen=True)

    stage: str
    kind: str
    version: str
    digests: dict[str, str]
    passed: bool
    checks: tuple[CheckResult, ...]
    started_at: datetime
    finished_at: datetime

    @property
    def failed(self) -> CheckResult | None:
        """The first failed check."""
        return next((c for c in self.checks if not c.passed), None)

    def summary(self) -> str:
        failure = self.failed
        if failure is not None:
            return f"verification failed: {failure.name}: {failure.detail}"
        return f"verified: {len(self.checks)} check{'s' if len(self.checks) != 1 else ''} passed"


# The decisions, over what AWS answered.


def steady_state(service: dict[str, Any], stack_task_definitions: set[str]) -> tuple[bool | None, str]:
    """Whether an ECS service (as DescribeServices answers) runs its stack's task definition, steadily.

    True: one deployment, COMPLETED, every desired task running, none failed. False: it never will be without a
    new deploy (a deployment FAILED, the service back on another task definition, tasks failed on the way to a
    completed rollout). None: not yet (a rollout in progress). The text says why."""
    task_definition = str(service.get("taskDefinition", ""))
    deployments: list[dict[str, Any]] = list(service.get("deployments") or [])
    if service.get("status", "ACTIVE") != "ACTIVE":
        return False, f"the service is {service.get('status')}"
    failed = next((d for d in deployments if d.get("rolloutState") == "FAILED"), None)
    if failed is not None:
        reason = str(failed.get("rolloutStateReason") or "")
        return False, (
            f"deployment {failed.get('id')} of {short(str(failed.get('taskDefinition', '')))} FAILED"
            f"{': ' + reason if reason else ''} (the circuit breaker stopped it)"
        )
    if task_definition not in stack_task_definitions:
        family = short(task_definition).rsplit(":", 1)[0]
        same = [t for t in stack_task_definitions if short(t).rsplit(":", 1)[0] == family] or stack_task_definitions
        wanted = ", ".join(sorted(short(t) for t in same)) or "none"
        return False, (
            f"the service runs {short(task_definition)}, not its stack's {wanted}: rolled back by the circuit breaker "
            "or changed outside the deploy"
        )
    primary = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
    if primary is None:
        return None, "no PRIMARY deployment yet"
    rollout = str(primary.get("rolloutState") or "")
    running, desired = int(service.get("runningCount", 0)), int(service.get("desiredCount", 0))
    failed_tasks = int(primary.get("failedTasks", 0) or 0)
    if rollout == "COMPLETED" and failed_tasks:
        return False, (
            f"deployment {primary.get('id')} completed, but {failed_tasks} of its tasks failed on the way; "
            "see the service's stopped tasks and their logs"
        )
    if len(deployments) != 1:
        others = [short(str(d.get("taskDefinition", ""))) for d in deployments if d is not primary]
        return None, f"{len(deployments)} deployments: {', '.join(others)} still draining"
    if rollout and rollout != "COMPLETED":
        return None, f"rollout {rollout}, {running} of {desired} tasks running, {failed_tasks} failed"
    if running != desired:
        return None, f"{running} of {desired} tasks running"
    if failed_tasks:
        return None, f"{failed_tasks} tasks failed"
    return True, f"{short(task_definition)}: {running} of {desired} tasks running, rollout COMPLETED"


def targets_state(targets: list[elbv2.TargetHealth], desired: int) -> tuple[bool | None, str]:
    """Whether a target group has at least ``desired`` targets, all healthy (draining ones aside); None: not
    yet (a target initial or unhealthy, too few registered)."""
    current = [t for t in targets if t.state not in IGNORED_TARGETS]
    sick = [t for t in current if t.state != "healthy"]
    if sick:
        shown = "; ".join(
            f"{t.target} {t.state}" + (f" ({t.reason}: {t.description})" if t.reason else "") for t in sick[:3]
        )
        return None, f"{len(sick)} of {len(current)} targets not healthy: {trim(shown, 240)}"
    if len(current) < desired:
        return None, f"{len(current)} healthy targets of the {desired} desired"
    return True, f"{len(current)} healthy targets"


def placeholder_values(release: Release, stage: str, environment: str) -> dict[str, str]:
    """What the placeholders of an expected value stand for."""
    return {
        "version": release.version,
        "commit": release.commit,
        "application": release.application,
        "stage": stage,
        "environment": environment,
    }


def answer_problem(check: SmokeCheck, status: int, text: str, values: dict[str, str]) -> str | None:
    """What is wrong with an HTTP answer (status and body) for ``check``; None when it passes."""
    if status != check.status:
        return f"expected status {check.status}, got {status}: {trim(text)}"
    if not check.json_fields:
        return None
    try:
        body = json.loads(text)
    except ValueError:
        return f"expected a JSON body with {', '.join(check.json_fields)}, got: {trim(text)}"
    problems = field_mismatches(body, check.json_fields, values)
    return f"{'; '.join(problems)} (body: {trim(text, 160)})" if problems else None


def short(task_definition: str) -> str:
    """``family:revision`` of a task definition ARN."""
    return task_definition.rsplit("/", 1)[-1]


# The loop around them.


@dataclass
class _Run:
    """One verification's state: its clock, its deadline, the checks so far."""

    session: AccountSession
    release: Release
    stage_name: str
    log: Log
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    now: Callable[[], datetime]
    poll: float
    http: Callable[[str, float], tuple[int, str]]
    http_retry: float
    deadline: float = 0.0
    results: list[CheckResult] = field(default_factory=list)
    quiet: bool = False  # a soak round logs only what failed

    def add(self, name: str, passed: bool, detail: str) -> bool:
        self.results.append(CheckResult(name=name, passed=passed, detail=detail, at=self.now()))
        if not (self.quiet and passed):
            self.log(f"{'passed' if passed else 'FAILED'} {name}: {detail}")
        return passed


@dataclass(frozen=True)
class _Service:
    cluster: str
    stack: str
    name: str
    desired: int
    target_groups: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.cluster}/{self.name}"


def http_get(url: str, timeout: float) -> tuple[int, str]:
    """The status and body text of a GET; status 0 and the error when nothing answers."""
    try:
        answer = httpx.get(url, timeout=timeout, follow_redirects=False)
    except httpx.HTTPError as error:
        return 0, f"no answer from {url}: {type(error).__name__}: {error}"
    return answer.status_code, answer.text


def verify(
    session: AccountSession,
    release: Release,
    stage: Stage,
    stage_name: str,
    kind: EnvironmentKind,
    outcomes: list[StackOutcome],
    checks: list[SmokeCheck],
    log: Log = lambda _: None,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    poll_seconds: float = POLL_SECONDS,
    http: Callable[[str, float], tuple[int, str]] = http_get,
    http_retry_seconds: float = HTTP_RETRY_SECONDS,
) -> Verification:
    """Verify a deploy of ``release`` (``outcomes``, of a ``kind`` environment) in stage ``stage_name``."""
    run = _Run(session, release, stage_name, log, clock, sleep, now, poll_seconds, http, http_retry_seconds)
    started = now()
    run.deadline = clock() + kind.verify_timeout_seconds
    log(f"verifying {release.id} in {stage_name} ({kind.name}): {len(checks)} smoke checks")
    passed = _verify(run, stage, outcomes, checks)
    verification = Verification(
        stage=stage_name,
        kind=kind.name,
        version=release.version,
        digests=audit.deployed_digests(release, kind),
        passed=passed and all(c.passed for c in run.results),
        checks=tuple(run.results),
        started_at=started,
        finished_at=now(),
    )
    log(verification.summary())
    return verification


def _verify(run: _Run, stage: Stage, outcomes: list[StackOutcome], checks: list[SmokeCheck]) -> bool:
    try:
        services = _services(run, outcomes)
    except CloudOpsError as error:
        return run.add("services", False, str(error))
    if not _steady(run, services):
        return False
    if not _targets(run, services, wait=True):
        return False
    http_checks = [(c, o) for c in checks if c.is_http for o in _environments(c, outcomes, APP_ENDPOINT)]
    task_checks = [(c, o) for c in checks if not c.is_http for o in _environments(c, outcomes, CLUSTER_OUTPUT)]
    for check, outcome in http_checks:
        if not _http_check(run, check, outcome, retry=run.http_retry):
            return False
    for check, outcome in task_checks:
        if not _task_check(run, check, outcome, services):
            return False
    if stage.soak_seconds:
        return _soak(run, stage, services, http_checks)
    return True


def _environments(check: SmokeCheck, outcomes: list[StackOutcome], output: str) -> list[StackOutcome]:
    return [o for o in outcomes if output in o.outputs and check.environment in ("", o.environment)]


def _services(run: _Run, outcomes: list[StackOutcome]) -> list[tuple[_Service, set[str]]]:
    """Every service of each outcome's cluster, with the task definitions its stack deployed."""
    found = []
    for outcome in outcomes:
        cluster = outcome.outputs.get(CLUSTER_OUTPUT)
        if not cluster:
            continue
        definitions = set(
            _retrying(
                run, partial(cloudformation.resources_of_type, run.session, outcome.stack, TASK_DEFINITION)
            ).values()
        )
        arns = _retrying(run, partial(ecs.list_services, run.session, cluster))
        if not arns:
            raise CloudOpsError(f"cluster {cluster} of stack {outcome.stack} runs no ECS service; deploy it again")
        described = _retrying(run, partial(ecs.describe_services, run.session, cluster, arns))
        for service in described:
            groups = tuple(
                str(b["targetGroupArn"]) for b in service.get("loadBalancers") or [] if b.get("targetGroupArn")
            )
            found.append(
                (
                    _Service(cluster, outcome.stack, str(service["serviceName"]), int(service["desiredCount"]), groups),
                    definitions,
                )
            )
    return found


def _retrying(run: _Run, call: Callable[[], T]) -> T:
    """``call``, again after a transient failure until the deadline; a permanent one raises."""
    while True:
        try:
            return call()
        except TransientError as error:
            if run.clock() >= run.deadline:
                raise CloudOpsError(f"{error} (still failing at the verification's deadline)") from None
            run.log(f"transient: {error}; asking again")
            run.sleep(run.poll)


def _steady(run: _Run, services: list[tuple[_Service, set[str]]]) -> bool:
    """Each service steady, polled until the deadline; False at once when one never will be. The results come
    in the services' order (not the order they settled in), so reports of the same deploy read alike."""
    waiting = {s.label: (s, definitions) for s, definitions in services}
    settled: dict[str, str] = {}
    last: dict[str, str] = {}

    def report(failed: str | None = None, why: str = "") -> bool:
        for service, _ in services:
            if service.label in settled:
                run.add(f"steady: {service.label}", True, settled[service.label])
        return True if failed is None else run.add(f"steady: {failed}", False, why)

    while waiting:
        for label, (service, definitions) in list(waiting.items()):
            try:
                (described,) = _retrying(
                    run, partial(ecs.describe_services, run.session, service.cluster, [service.name])
                )
            except CloudOpsError as error:
                return report(label, str(error))
            except ValueError:
                return report(label, "the service is gone")
            state, why = steady_state(described, definitions)
            last[label] = why
            if state is False:
                return report(label, why)
            if state:
                waiting.pop(label)
                settled[label] = why
        if waiting and run.clock() >= run.deadline:
            label = next(iter(waiting))
            return report(label, f"not steady within the verification timeout: {last[label]}")
        if waiting:
            run.sleep(run.poll)
    return report()


def _targets(run: _Run, services: list[tuple[_Service, set[str]]], *, wait: bool) -> bool:
    """Each service's target groups: enough targets, all healthy (polled until the deadline when ``wait``)."""
    for service, _ in services:
        for group in service.target_groups:
            name = f"targets: {service.label}" + (
                f" ({group.rsplit('/', 2)[-2]})" if len(service.target_groups) > 1 else ""
            )
            while True:
                try:
                    found = _retrying(run, partial(elbv2.target_health, run.session, group))
                except CloudOpsError as error:
                    return run.add(name, False, str(error))
                state, why = targets_state(found, service.desired)
                if state:
                    run.add(name, True, why)
                    break
                if not wait or run.clock() >= run.deadline:
                    return run.add(
                        name, False, why if not wait else f"not healthy within the verification timeout: {why}"
                    )
                run.sleep(run.poll)
    return True


def worth_asking_again(check: SmokeCheck, status: int) -> bool:
    """Whether a failed answer may be passing: nothing answered, or another status (a database still coming up
    answers 503). The expected status with other content is the application's answer: it fails at once."""
    return status != check.status


def _http_check(run: _Run, check: SmokeCheck, outcome: StackOutcome, *, retry: float) -> bool:
    """GET the check's path on the environment's endpoint; asked again for ``retry`` s while it fails."""
    assert check.path is not None
    url = outcome.outputs[APP_ENDPOINT].rstrip("/") + check.path
    values = placeholder_values(run.release, run.stage_name, outcome.environment)
    name = f"smoke {outcome.environment}: {check.name}"
    until = run.clock() + retry
    while True:
        status, text = run.http(url, check.timeout_seconds)
        problem = answer_problem(check, status, text, values)
        if problem is None:
            return run.add(
                name,
                True,
                f"GET {url}: {status}" + (f", {', '.join(check.json_fields)} as expected" if check.json_fields else ""),
            )
        if run.clock() >= until or not worth_asking_again(check, status):
            return run.add(name, False, f"GET {url}: {problem}")
        run.sleep(HTTP_RETRY_EVERY)


def _task_check(run: _Run, check: SmokeCheck, outcome: StackOutcome, services: list[tuple[_Service, set[str]]]) -> bool:
    """Run the check's one-off task in the environment's cluster, like its first service's tasks; exit 0 passes."""
    assert check.task is not None
    cluster = outcome.outputs[CLUSTER_OUTPUT]
    name = f"task {outcome.environment}: {check.name}"
    try:
        definition, launch_type, network = _check_task_definition(run, check, outcome, services)
        # a RunTask asked again after a transient error may start a second check task: harmless, it only reads
        started_by = f"cloudops-check-{run.release.version}"
        arn = _retrying(run, partial(ecs.run_task, run.session, cluster, definition, started_by, launch_type, network))
        result = ecs.wait_stopped(run.session, cluster, arn, check.task.timeout_seconds, sleep=run.sleep)
    except CloudOpsError as error:
        return run.add(name, False, str(error))
    code = result.exit_codes.get(CHECK_CONTAINER)
    if result.succeeded:
        return run.add(name, True, f"task {short(arn)} exited 0")
    reasons = "; ".join(result.reasons.values())
    return run.add(
        name, False, f"task {short(arn)} exited {code} ({result.stopped_reason}{'; ' + reasons if reasons else ''})"
    )


def _check_task_definition(
    run: _Run, check: SmokeCheck, outcome: StackOutcome, services: list[tuple[_Service, set[str]]]
) -> tuple[str, str, dict[str, Any] | None]:
    """A revision of ``<application>-<stage>-check`` running the check's image by digest from the registry the
    environment's services pull from, in their network; (its ARN, the launch type, the network configuration)."""
    assert check.task is not None
    mine = [(s, d) for s, d in services if s.stack == outcome.stack]
    if not mine:
        raise CloudOpsError(f"stack {outcome.stack} has no ECS service to run task check {check.name!r} like")
    service, _ = mine[0]
    (described,) = _retrying(run, partial(ecs.describe_services, run.session, service.cluster, [service.name]))
    template = _retrying(run, partial(ecs.describe_task_definition, run.session, str(described["taskDefinition"])))
    image_name = check.task.image
    if image_name in ImageRoles.model_fields:
        image_name = run.release.image_roles.image(image_name)  # type: ignore[arg-type]  # a role, just checked
    image = run.release.images.get(image_name)
    if image is None:
        raise CloudOpsError(f"release {run.release.id} has no image {image_name!r} for task check {check.name!r}")
    host = str(template["containerDefinitions"][0]["image"]).split("/", 1)[0]
    keep = ("executionRoleArn", "taskRoleArn", "networkMode", "requiresCompatibilities", "cpu", "memory")
    container: dict[str, Any] = {
        "name": CHECK_CONTAINER,
        "image": f"{host}/{image_name}@{image.digest}",
        "command": list(check.task.command),
        "essential": True,
    }
    if str(template.get("memory", "")).isdigit():
        # NOTE: optional on AWS (the task's memory bounds it anyway); moto's RunTask fails on a container without it
        container["memory"] = int(template["memory"])
    logging = template["containerDefinitions"][0].get("logConfiguration")
    if logging:
        container["logConfiguration"] = {
            **logging,
            "options": {**logging.get("options", {}), "awslogs-stream-prefix": "check"},
        }
    register = partial(
        ecs.register_task_definition,
        run.session,
        {
            **{k: template[k] for k in keep if template.get(k)},
            "family": f"{run.release.application}-{run.stage_name}-check",
            "containerDefinitions": [container],
            "tags": [{"key": "cloudops:version", "value": run.release.version}],
        },
    )
    definition = _retrying(run, register)
    launch_type = str(described.get("launchType") or "FARGATE")
    network = described.get("networkConfiguration") or None
    run.log(f"task check {check.name!r}: {short(definition)} in cluster {service.cluster}")
    return definition, launch_type, network


def _soak(
    run: _Run,
    stage: Stage,
    services: list[tuple[_Service, set[str]]],
    http_checks: list[tuple[SmokeCheck, StackOutcome]],
) -> bool:
    """The targets and the HTTP checks again every interval for the stage's soak time; the first failure ends it."""
    run.log(f"soaking for {stage.soak_seconds} s, every {stage.soak_interval_seconds} s")
    end = run.clock() + stage.soak_seconds
    rounds = 0
    while run.clock() < end:
        run.sleep(min(stage.soak_interval_seconds, max(0.0, end - run.clock())))
        rounds += 1
        run.deadline = max(run.deadline, run.clock() + 60)  # transient AWS errors may be asked again for a while
        before = len(run.results)
        run.quiet = True
        ok = _targets(run, services, wait=False) and all(
            _http_check(run, check, outcome, retry=0) for check, outcome in http_checks
        )
        run.quiet = False
        failed = [r for r in run.results[before:] if not r.passed]
        del run.results[before:]  # a round that passes adds nothing: one soak result says how many passed
        if not ok:
            run.results.extend(
                r.model_copy(update={"name": f"soak: {r.name}", "detail": f"round {rounds}: {r.detail}"})
                for r in failed
            )
            return False
    return run.add("soak", True, f"{rounds} rounds over {stage.soak_seconds} s: targets healthy, smoke checks passed")


def verification_entry(
    release: Release,
    stage: str,
    kind: EnvironmentKind,
    verification: Verification,
    actor: str,
    flow_run_id: str | None,
) -> audit.VerificationEntry:
    """A deploy's verification: every check it ran, and whether the deployed digests passed them."""
    return audit.VerificationEntry(
        application=release.application,
        version=release.version,
        stage=stage,
        at=verification.finished_at,
        actor=actor,
        digests=audit.deployed_digests(release, kind),
        comment=verification.summary(),
        flow_run_id=flow_run_id,
        deploy_kind=kind.name,
        outcome=audit.VERIFIED if verification.passed else audit.VERIFICATION_FAILED,
        started_at=verification.started_at,
        checks=tuple(
            audit.CheckRecord(name=c.name, passed=c.passed, detail=c.detail, at=c.at) for c in verification.checks
        ),
    )
