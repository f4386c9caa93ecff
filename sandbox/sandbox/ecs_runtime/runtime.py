"""The sandbox's ECS runtime: in moto's own process, it runs every service moto holds on the sandbox's Docker
engine, as ECS would, and writes back what really runs.

For each ACTIVE service: ``desiredCount`` tasks of its current task definition, each from the images of its
own account's registry (that account's login; never another's), with its environment, environment files
and secrets; tasks that exit are replaced and counted as failed. A new task definition rolls: the new
tasks start and pass their health checks (and their load balancer's), then the old ones stop. A deleted
service's tasks stop. When a deployment's tasks keep failing, the circuit breaker fails it and rolls the
service back to the last task definition that completed.

It wakes when a service changes (moto_ecs_fixes.on_change) or a container dies (Docker's events), and every
few seconds while a deployment is under way or a load balancer has targets to check; otherwise it sleeps.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import docker

from sandbox import moto_ecs_fixes
from sandbox.ecs_runtime import definitions, docker_tasks, moto_view, run_tasks
from sandbox.ecs_runtime.config import CONFIG_ENV, RuntimeConfig
from sandbox.ecs_runtime.load_balancers import LoadBalancers, Target, check
from sandbox.ecs_runtime.log_shipping import LogShipper
from sandbox.ecs_runtime.moto_view import ServiceView
from sandbox.ecs_runtime.task_specs import TaskState

BUSY_SECONDS, IDLE_SECONDS = 2.0, 60.0
SCALING = "Scaling activity initiated by (deployment)"
# NOTE: a target group drains a deregistered target for its deregistration delay (300 s unless set), or until
# its requests are done; the sandbox's listeners give a task leaving them a few seconds, enough for its requests.
DRAIN_SECONDS = 3.0
STOPPED_KEPT = 10  # stopped tasks describe-tasks still shows per service, as ECS keeps them for a while
LOG = logging.getLogger("sandbox.ecs_runtime")


def circuit_breaker_threshold(desired: int) -> int:
    """ECS fails a deployment after this many failed tasks: half the desired count, between 3 and 200."""
    return min(200, max(3, -(-desired // 2)))


class Runtime:
    def __init__(self, config_file: Path) -> None:
        self.config_file = config_file
        self.wake = threading.Event()
        self.starting: dict[str, Future[TaskState]] = {}
        self.failed: dict[str, dict[str, int]] = {}  # service -> deployment -> failed tasks
        self.stopped: dict[str, dict[str, dict[str, Any]]] = {}  # service -> the last tasks that stopped
        self.exited: dict[str, list[TaskState]] = {}  # service -> tasks reaped this round
        self.health: dict[str, dict[Target, tuple[str, str]]] = {}
        self.checked_at: dict[str, float] = {}
        # Starts mostly wait (pulls, dependsOn health): enough workers that one slow task holds up no other
        self.pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="sandbox-ecs-task")
        self.balancers = LoadBalancers()
        self.logs = LogShipper()
        self.busy = True  # a first round soon after the start: services restored with moto's state wait for it
        self.client: docker.DockerClient | None = None
        self.client_host = ""
        self.cleared = False
        self.draining: dict[str, float] = {}  # task id -> when it may stop (it takes no new connections)
        self.stops: dict[str, tuple[str, Future[TaskState]]] = {}  # task id -> (service, its stop under way)
        self.last_seen: dict[str, TaskState] = {}  # a task being stopped, as it was when asked to stop

    def config(self) -> RuntimeConfig | None:
        try:
            return RuntimeConfig.model_validate_json(self.config_file.read_text())
        except (OSError, ValueError):
            return None

    def run(self) -> None:
        moto_ecs_fixes.on_change(self.wake.set)
        while True:
            self.wake.wait(BUSY_SECONDS if self.busy else IDLE_SECONDS)
            self.wake.clear()
            try:
                self.reconcile()
            except Exception:  # the runtime must outlive any one failure; the next round tries again
                LOG.exception("ECS runtime: a reconcile round failed")
                self.busy = True

    def engine(self, host: str) -> docker.DockerClient | None:
        """The engine's client, made once and kept while the engine answers; None while it does not."""
        try:
            if self.client is None or self.client_host != host:
                self.client, self.client_host = docker.DockerClient(base_url=host, timeout=60), host
            self.client.ping()
        except docker.errors.DockerException:
            if self.client is not None:
                self.client.close()
            self.client = None
            return None
        return self.client

    def reconcile(self) -> None:
        config = self.config()
        if config is None:
            return
        client = self.engine(config.docker_host)
        if client is None:
            self.busy = True  # the engine is not up yet: try again soon
            return
        self.watch_events(config.docker_host)
        self.logs.sync(client, config.docker_host)  # before the reaping: an exited container's last lines
        if not self.cleared:
            self.clear_previous_run(client)
        views = moto_view.services()
        # an essential container exited: the task stops (only the runtime's own tasks, not others on the engine)
        # ... but a task being stopped (its app exits on the SIGTERM) is the stop's, not a failure
        stopping = frozenset(self.stops)
        for exited in docker_tasks.reap_exited(client, labels={definitions.RUNTIME_LABEL: "1"}, stopping=stopping):
            self.exited.setdefault(exited.labels.get(definitions.SERVICE_LABEL, ""), []).append(exited)
        # One listing a round, grouped by service; each service's reconcile says which of its tasks still run
        self.collect_stops()
        listed: dict[str, list[TaskState]] = {}
        for task in docker_tasks.list_tasks(client, {definitions.RUNTIME_LABEL: "1"}):
            if task.last_status != "STOPPED" and task.task_id not in self.stops:
                listed.setdefault(task.labels.get(definitions.SERVICE_LABEL, ""), []).append(task)
        busy = False
        for view in views:
            try:
                settled, listed[view.arn] = self.reconcile_service(client, config, view, listed.get(view.arn, []))
                busy |= not settled
            except Exception:  # one service's trouble must not stop the others
                LOG.exception("ECS runtime: %s could not be reconciled", view.arn)
                busy = True
        self.stop_orphans(client, listed, {v.arn for v in views})
        busy |= self.sync_load_balancers(views, listed)
        busy |= run_tasks.reconcile(client, config)  # RunTask's one-off tasks
        self.busy = busy

    def reconcile_service(
        self, client: docker.DockerClient, config: RuntimeConfig, view: ServiceView, tasks: list[TaskState]
    ) -> tuple[bool, list[TaskState]]:
        """One service towards its desired state: whether it is there, and the service's tasks still running."""
        for exited in self.exited.pop(view.arn, []):
            self.count_failure(view, exited)
        self.collect_starts(view)
        current = [t for t in tasks if t.labels.get(definitions.TASK_DEFINITION_LABEL) == view.task_definition_arn]
        old = [t for t in tasks if t not in current]
        starting = [k for k in self.starting if k.startswith(f"{view.arn}#")]
        failed = self.failed.get(view.arn, {}).get(view.deployment_id, 0)
        # the circuit breaker watches a deployment under way (a task that fails later is only replaced)
        if view.rollout_state == "IN_PROGRESS" and failed >= circuit_breaker_threshold(view.desired_count):
            self.record(view, tasks, "FAILED")
            return (not self.roll_back(view) if view.rollback_on_failure else True), tasks
        if view.rollout_state == "FAILED":  # failed with nothing to roll back to: ECS launches nothing more for it
            self.record(view, tasks, "FAILED")
            return True, tasks
        account = config.accounts.get(view.account)
        for _ in range(view.desired_count - len(current) - len(starting)) if account else ():
            try:
                spec = definitions.task_spec(view, account, config.efs_root)  # type: ignore[arg-type]  # set here
            except LookupError as error:  # a missing environment file or secret: ECS fails the task at start
                self.count_failure(view, self.never_started(view, f"ResourceInitializationError: {error}"))
                continue
            key = f"{view.arn}#{view.deployment_id}#{spec.task_id}"
            LOG.info("ECS runtime: starting task %s of %s (%s)", spec.task_id, view.arn, view.task_definition_arn)
            self.starting[key] = self.pool.submit(docker_tasks.start_task, client, spec)
            self.starting[key].add_done_callback(lambda _: self.wake.set())
        for sick in [t for t in current if t.health == "UNHEALTHY"]:  # ECS replaces an unhealthy task
            self.count_failure(
                view, docker_tasks.stop_task(client, sick.task_id, "Task failed container health checks")
            )
            current.remove(sick)
        for extra in current[view.desired_count :]:
            self.stop_soon(client, view.arn, extra, SCALING)
            current.remove(extra)
        ready = [t for t in current if self.ready(view, t)]
        if len(ready) >= view.desired_count:
            # The old tasks leave their load balancer first and stop once it has drained them, as ECS does
            for task in old:
                self.draining.setdefault(task.task_id, time.monotonic() + DRAIN_SECONDS)
            drained = [t for t in old if self.draining[t.task_id] <= time.monotonic()]
            for task in drained:
                self.stop_soon(client, view.arn, task, SCALING)
                self.draining.pop(task.task_id)
            old = [t for t in old if t not in drained]
        # ECS completes a deployment once the old tasks are gone, not while they stop
        stopping = any(service == view.arn for service, _ in self.stops.values())
        settled = len(ready) >= view.desired_count and not old and not stopping
        self.record(view, current + old, "COMPLETED" if settled else "IN_PROGRESS")
        return settled, current + old

    def count_failure(self, view: ServiceView, task: TaskState) -> None:
        """A task that stopped on its own counts against its deployment; describe-tasks keeps showing it."""
        deployment = task.labels.get(definitions.DEPLOYMENT_LABEL, "")
        counts = self.failed.setdefault(view.arn, {})
        counts[deployment] = counts.get(deployment, 0) + 1
        self.keep_stopped(view, task)

    def clear_previous_run(self, client: docker.DockerClient) -> None:
        """Tasks that stopped while the runtime was not running (the sandbox went down, and the engine with it)
        are removed, shown as stopped and not counted as failures: their services start new ones."""
        for task in docker_tasks.list_tasks(client, {definitions.RUNTIME_LABEL: "1"}):
            if task.last_status == "STOPPED":
                reason = "Task stopped while the sandbox was down"
                stopped = docker_tasks.stop_task(client, task.task_id, reason)
                self.keep_stopped(task.labels.get(definitions.SERVICE_LABEL, ""), stopped)
        self.cleared = True

    def stop_soon(self, client: docker.DockerClient, service: str, task: TaskState, reason: str) -> None:
        """Stop a task off the round (its containers get their stop timeout, as on ECS, and a round waits for no
        one); the round after it has stopped shows it stopped."""
        if task.task_id not in self.stops:
            self.last_seen[task.task_id] = task
            stopping = self.pool.submit(docker_tasks.stop_task, client, task.task_id, reason)
            stopping.add_done_callback(lambda _: self.wake.set())
            self.stops[task.task_id] = (service, stopping)

    def collect_stops(self) -> None:
        for task_id, (service, stopping) in list(self.stops.items()):
            if stopping.done():
                del self.stops[task_id]
                self.last_seen.pop(task_id, None)
                if stopping.exception() is None:
                    self.keep_stopped(service, stopping.result())

    def keep_stopped(self, service: ServiceView | str, task: TaskState) -> None:
        """describe-tasks keeps showing a stopped task (the last few of each service), as ECS does for a while."""
        kept = self.stopped.setdefault(service if isinstance(service, str) else service.arn, {})
        kept[task.task_id] = definitions.observed(task)
        for task_id in list(kept)[:-STOPPED_KEPT]:
            kept.pop(task_id)

    @staticmethod
    def never_started(view: ServiceView, reason: str) -> TaskState:
        labels = {
            definitions.DEPLOYMENT_LABEL: view.deployment_id,
            definitions.TASK_DEFINITION_LABEL: view.task_definition_arn,
        }
        now = datetime.now(UTC)
        return TaskState(
            task_id=uuid.uuid4().hex, last_status="STOPPED", stopped_reason=reason, stopped_at=now, labels=labels
        )

    def collect_starts(self, view: ServiceView) -> None:
        """Starts that have finished: a task that could not start (say, its image is missing) is a failed one."""
        for key, future in list(self.starting.items()):
            if not key.startswith(f"{view.arn}#") or not future.done():
                continue
            del self.starting[key]
            error = future.exception()
            if error is not None:
                LOG.warning("ECS runtime: a task of %s could not start: %s", view.arn, error)
                self.failed.setdefault(view.arn, {}).setdefault(key.split("#")[1], 0)
                self.failed[view.arn][key.split("#")[1]] += 1
                continue
            state = future.result()
            LOG.info(
                "ECS runtime: task %s of %s is %s %s",
                state.task_id,
                view.arn,
                state.last_status,
                state.ip or state.stopped_reason or "",
            )
            if state.last_status == "STOPPED":
                self.count_failure(view, state)

    def ready(self, view: ServiceView, task: TaskState) -> bool:
        """Running, healthy where its containers have health checks, and healthy in its load balancer."""
        if task.last_status != "RUNNING" or task.health == "UNHEALTHY":
            return False
        if any(c.get("healthCheck") for c in view.containers) and task.health != "HEALTHY":
            return False
        for balancer in view.load_balancers:
            target = (task.ip or "", int(balancer["containerPort"]))
            if self.health.get(str(balancer["targetGroupArn"]), {}).get(target, ("initial", ""))[0] != "healthy":
                return False
        return True

    def roll_back(self, view: ServiceView) -> bool:
        """The circuit breaker: the deployment failed; back to the last task definition that completed."""
        if not view.previous_task_definition:
            return False  # nothing to go back to: the deployment stays FAILED, and nothing more is started
        LOG.info("ECS runtime: %s failed; rolling back to %s", view.deployment_id, view.previous_task_definition)
        moto_ecs_fixes.follow_new_task_definition(
            view.account, view.region, view.task_definition_arn, view.previous_task_definition, by_stack=False
        )
        return True

    def record(self, view: ServiceView, running: list[TaskState], rollout: str) -> None:
        """What runs, into moto: the tasks still running and the last stopped ones (any other task of the service
        moto holds is gone)."""
        observed = {**self.stopped.get(view.arn, {}), **{t.task_id: definitions.observed(t) for t in running}}
        for task_id, (service, _stopping) in self.stops.items():
            if service == view.arn and task_id in self.last_seen:  # asked to stop, not stopped yet
                observed[task_id] = {**definitions.observed(self.last_seen[task_id]), "last_status": "STOPPING"}
        moto_view.record(view, observed, self.failed.get(view.arn, {}), rollout)

    def stop_orphans(self, client: docker.DockerClient, listed: dict[str, list[TaskState]], services: set[str]) -> None:
        """Tasks of a service moto no longer holds (deleted with its stack) stop."""
        for service, tasks in listed.items():
            if service and service not in services:
                for task in tasks:
                    self.stop_soon(client, service, task, "Service deleted")

    def sync_load_balancers(self, views: list[ServiceView], listed: dict[str, list[TaskState]]) -> bool:
        """Register each service's running tasks in its target groups, check them, and point the listeners at the
        healthy ones; True while a target is not healthy yet."""
        targets: dict[str, set[Target]] = {}
        for view in views:
            tasks = listed.get(view.arn, [])
            for balancer in view.load_balancers:
                members = targets.setdefault(str(balancer["targetGroupArn"]), set())
                members |= {
                    (t.ip, int(balancer["containerPort"]))
                    for t in tasks
                    if t.last_status == "RUNNING" and t.ip and t.task_id not in self.draining
                }
        waiting = False
        for arn, members in targets.items():
            moto_view.register_targets(arn, members)
            group = moto_view.target_group(arn)
            known = self.health.setdefault(arn, {})
            due = (
                time.monotonic() - self.checked_at.get(arn, 0.0) >= min(group.interval_seconds, 10) if group else False
            )
            for member in members:
                if group is not None and (due or member not in known or known[member][0] != "healthy"):
                    found = check(member, group.health_check_path)
                    if known.get(member) != found:
                        LOG.info("ECS runtime: target %s:%s of %s is %s %s", *member, arn, *found)
                    known[member] = found
            for gone in set(known) - members:
                known.pop(gone)
            self.checked_at[arn] = time.monotonic()
            moto_view.set_target_health(arn, known)
            waiting |= any(state != "healthy" for state, _ in known.values())
        healthy = {arn: [t for t, (state, _) in h.items() if state == "healthy"] for arn, h in self.health.items()}
        self.balancers.sync(moto_view.listeners(), healthy)
        return waiting

    _watching: str | None = None

    def watch_events(self, docker_host: str) -> None:
        """Wake on every container that dies (an essential container's exit stops its task)."""
        if self._watching == docker_host:
            return
        self._watching = docker_host

        def watch() -> None:
            client = docker.DockerClient(base_url=docker_host, timeout=None)
            events: Any = client.events(
                decode=True, filters={"label": f"{definitions.RUNTIME_LABEL}=1", "event": "die"}
            )
            for _event in events:
                self.wake.set()

        threading.Thread(target=watch, name="sandbox-ecs-events", daemon=True).start()


def start_from_environment() -> Runtime | None:
    """Start the runtime in this (moto's) process when the sandbox named its configuration file."""
    path = os.environ.get(CONFIG_ENV)
    if not path:
        return None
    logging.basicConfig(level=logging.WARNING)
    LOG.setLevel(logging.INFO)
    runtime = Runtime(Path(path))
    threading.Thread(target=runtime.run, name="sandbox-ecs-runtime", daemon=True).start()
    return runtime
