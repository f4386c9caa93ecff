"""The local sandbox: real servers on 127.0.0.1 standing in for the stage accounts.

``Sandbox.up`` starts (or finds already running) moto server, one registry per stage, MariaDB, a
Docker engine and a Prefect server, waits until each answers, and initialises every stage account.
``down`` stops them all and leaves no process behind; the data stays, so the next start is warm.
The same code serves the ``cloudops sandbox`` commands and the test suite's fixtures.
"""

from __future__ import annotations

import base64
import functools
import json
import shutil
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import docker
from pydantic import SecretStr

from cloudops.accounts import AccountInit
from cloudops.aws.session import AccountCredentials, AccountSession, open_account
from cloudops.bootstrap import Trust, bootstrap_account
from cloudops.netutil import free_port, free_ports
from cloudops.policies import pipeline_role, roles_of_stage
from cloudops.settings import RDS_DATABASES_ENV, Settings
from deployments.ecs_work_pool import ECS_WORK_POOL
from deployments.work_pool import WORK_POOL, ensure_work_pool
from sandbox import docker_engine, ecs_pool, mariadb, moto_server, postgres, prefect_server, prefect_worker, registries
from sandbox.errors import SandboxError
from sandbox.interrupted_runs import InterruptedRun, mark_crashed, runs_in_flight
from sandbox.processes import (
    alive,
    require_free_port,
    stop,
    stop_worker,
    sweep,
    wait_until,
)
from sandbox.state import (
    MYSQL_USER,
    REGISTRY_USER,
    SANDBOX_ACCESS_KEY_ID,
    SANDBOX_BASE_USER_ARN,
    SANDBOX_RDS_DATA,
    SANDBOX_ROLE_NAME,
    SANDBOX_SECRET_ACCESS_KEY,
    PrefectDatabase,
    RegistryState,
    SandboxState,
    write_private,
)

PARTS = ("moto", "registries", "mariadb", "postgres", "docker", "prefect", "worker")
# The worker runs flow runs of the deployments: it starts after the others, once the Prefect server answers.
AFTER_THE_OTHERS = ("worker",)
DEFAULT_PORTS = {"moto": 4566, "mariadb": 3307, "postgres": 5433, "prefect": 4200, "registries": 5001}
# Upper bounds for a loaded 2-core machine (a Prefect server once took over 120 s there); a healthy start: seconds.
START_TIMEOUT = {
    "moto": 120.0,
    "registries": 60.0,
    "mariadb": 120.0,
    "postgres": 120.0,
    "docker": 180.0,
    "prefect": 300.0,
}
# The log of a part whose file is not named after it (a registry's is registry-<stage>.log).
LOGS = {"docker": "dockerd.log", "prefect": "prefect-server.log", "worker": "prefect-worker.log"}

Report = Callable[[str], None]
MAX_WORKERS = 16


def _workers(count: int) -> str:
    return "1 worker" if count == 1 else f"{count} workers"


@dataclass(frozen=True)
class PartStatus:
    name: str
    address: str
    answers: bool
    pid: int | None


@dataclass(frozen=True)
class Stopped:
    """What `down` stopped in the middle of its work: the runs it interrupted, and the stray processes it killed."""

    interrupted: list[InterruptedRun]
    leftovers: list[int]


class Sandbox:
    """The sandbox in folder ``root`` for the stages of ``settings``."""

    def __init__(
        self, root: Path, settings: Settings, *, auto_ports: bool = False, project_dir: Path | None = None
    ) -> None:
        self.root = root.absolute()
        # Where the worker runs flows from (prefect.yaml's pull step changes into it): this project.
        self.project_dir = (project_dir or Path(__file__).resolve().parents[1]).absolute()
        self.settings = settings
        self.auto_ports = auto_ports
        self.state = self._load_or_plan_state()

    # -- starting ------------------------------------------------------------------------------

    def up(self, parts: Collection[str] = PARTS, report: Report = print) -> SandboxState:
        """Start every part in ``parts`` that does not answer yet; harmless when all do."""
        unknown = set(parts) - set(PARTS)
        if unknown:
            raise SandboxError(f"unknown sandbox part(s) {sorted(unknown)}; choose from {', '.join(PARTS)}")
        self.root.mkdir(parents=True, exist_ok=True)
        self.state.logs.mkdir(parents=True, exist_ok=True)
        parts = [part for part in parts if part != "postgres" or self.state.prefect_database == "postgresql"]
        todo = [part for part in PARTS if part in parts and not self._answers(part)]
        for part in PARTS:
            if part in parts and part not in todo:
                report(f"{part}: already running")
        self._check_ports(todo)
        self.state.save()
        errors = []
        # on PostgreSQL, the Prefect server starts once its database answers
        later = ("prefect", *AFTER_THE_OTHERS) if self.state.prefect_database == "postgresql" else AFTER_THE_OTHERS
        with ThreadPoolExecutor(max_workers=len(todo) or 1) as pool:
            futures = {part: pool.submit(self._start, part) for part in todo if part not in later}
            for part, future in futures.items():
                try:
                    future.result()
                    report(f"{part}: started ({self._address(part)})")
                except SandboxError as error:
                    errors.append(f"{part}: {error}")
        for part in (p for p in todo if p in later and not errors):
            try:
                self._start(part)
                report(f"{part}: started ({self._address(part)})")
            except SandboxError as error:
                errors.append(f"{part}: {error}")
        self.state.save()
        self.write_ecs_runtime_config()
        if errors:
            raise SandboxError("the sandbox did not start:\n" + "\n".join(errors))
        self.write_client_config()
        return self.state

    def write_ecs_runtime_config(self) -> None:
        """What the ECS runtime needs: the Docker engine, and each account's own registry and login; what the RDS
        runtime needs: the sandbox's MariaDB and the stage accounts (the build account's instances are the
        snapshot flow's, on the sandbox's MariaDB)."""
        from sandbox.ecs_runtime.config import AccountRuntime, MariaDbLogin, RdsRuntimeConfig, RuntimeConfig

        accounts = {}
        for stage, registry in self.state.registries.items():
            login = registry.login()
            accounts[self.settings.stage(stage).account_id] = AccountRuntime(
                stage=stage, registry_url=login.url, username=login.username, password=login.password
            )
        build = self.settings.stage(self.settings.build_stage).account_id
        rds = RdsRuntimeConfig(
            data_dir=self.root / "rds",
            snapshots=MariaDbLogin(
                host="127.0.0.1", port=self.state.mariadb_port, user=MYSQL_USER, password=self.state.mariadb_password
            ),
            accounts=sorted(set(accounts) - {build}),
        )
        # NOTE: on AWS an EFS file system is a network share; here, a folder per account and file system under
        # the sandbox's folder, kept by `sandbox down` (only `purge` deletes it)
        RuntimeConfig(docker_host=self.state.docker_host, accounts=accounts, efs_root=self.root / "efs", rds=rds).save(
            moto_server.ecs_runtime_config(self.state)
        )

    def _start(self, part: str) -> None:
        state = self.state
        if part == "moto":
            # Each pid is kept before the wait, so a part too slow to answer is still stopped by `down`.
            accounts = sorted({self.settings.stage(s).account_id for s in self.settings.promotion_order()})
            state.pids["moto"] = pid = moto_server.start(state, accounts)
            self._wait(part, pid, lambda: moto_server.answers(state))
        elif part == "registries":
            for registry in state.registries.values():
                if registries.answers(registry):
                    continue
                registry.pid = registries.start(state, registry)
                self._wait(
                    f"registry of {registry.stage}", registry.pid, functools.partial(registries.answers, registry)
                )
        elif part == "mariadb":
            state.pids["mariadb"] = pid = mariadb.start(state)
            self._wait(part, pid, lambda: mariadb.answers(state))
        elif part == "docker":
            state.pids["docker"] = docker_engine.start(state, START_TIMEOUT["docker"])
        elif part == "postgres":
            state.pids["postgres"] = pid = postgres.start(state)
            self._wait(part, pid, lambda: postgres.answers(state))
        elif part == "prefect":
            if state.prefect_database == "postgresql" and not postgres.answers(state):
                raise SandboxError("the Prefect server runs on PostgreSQL here: start the 'postgres' part too")
            state.pids["prefect"] = pid = prefect_server.start(state)
            self._wait(part, pid, lambda: prefect_server.answers(state))
        elif part == "worker":
            if not prefect_server.answers(state):
                raise SandboxError("the worker needs the Prefect server: start the 'prefect' part too")
            ensure_work_pool(prefect_worker.worker_env(state, self.project_dir))
            for number in range(1, state.workers + 1):
                key = prefect_worker.pid_key(number)
                if not alive(state.pids.get(key)):
                    state.pids[key] = prefect_worker.start(state, self.project_dir, number)
            if state.ecs_pool_image:  # `up --ecs-pool` set the ECS work pool up: its worker comes back with the rest
                ecs_pool.start_worker(ecs_pool.PrefectServer.of(state), state, self.settings, self.project_dir)

    def _wait(self, part: str, pid: int, check: Callable[[], bool]) -> None:
        name = part.split()[0]
        log = self.state.logs / (
            "registry-" + part.split()[-1] + ".log" if name == "registry" else LOGS.get(name, f"{name}.log")
        )
        wait_until(check, part=part, pid=pid, log=log, timeout=START_TIMEOUT.get(name, 60.0))

    def _check_ports(self, parts: list[str]) -> None:
        ports: list[tuple[int, str]] = []
        if "moto" in parts:
            ports.append((self.state.moto_port, "moto server"))
        if "mariadb" in parts:
            ports.append((self.state.mariadb_port, "MariaDB"))
        if "postgres" in parts:
            ports.append((self.state.postgres_port, "PostgreSQL"))
        if "prefect" in parts:
            ports.append((self.state.prefect_port, "Prefect server"))
        if "registries" in parts:
            ports += [
                (r.port, f"registry of {r.stage}") for r in self.state.registries.values() if not registries.answers(r)
            ]
        for port, what in ports:
            require_free_port(port, what)

    # -- the accounts --------------------------------------------------------------------------

    def credentials(self, stage: str, role: str = SANDBOX_ROLE_NAME) -> AccountCredentials:
        """How to reach stage ``stage``'s account in the sandbox: assume role ``role`` in it through moto (by
        default the account's administrator, which sets it up)."""
        config = self.settings.stage(stage)
        return AccountCredentials(
            account_id=config.account_id,
            region=config.region,
            aws_access_key_id=SANDBOX_ACCESS_KEY_ID,
            aws_secret_access_key=SecretStr(SANDBOX_SECRET_ACCESS_KEY),
            role_arn=self.state.role_arn(config.account_id, role),
            role_session_name="cloudops-sandbox",
            endpoint_url=self.state.moto_url,
        )

    def pipeline_credentials(self, stage: str) -> AccountCredentials:
        """What the pipeline's runs reach ``stage``'s account with: its least-privilege role (cloudops/policies.py)."""
        return self.credentials(stage, pipeline_role(self.settings, stage).name)

    def account(self, stage: str) -> AccountSession:
        return open_account(self.credentials(stage), where=f"sandbox account of stage {stage!r}")

    def initialise_accounts(self, report: Report = print) -> list[AccountInit]:
        """Bootstrap each stage's account as `cloudops accounts bootstrap` does (its stack cloudops-bootstrap:
        bucket, key, repositories, the pipeline's roles trusting the sandbox's base user; its config files),
        through the account's administrator role; idempotent."""
        results = []
        for stage in self.settings.promotion_order():
            result = bootstrap_account(self.account(stage), self.settings, stage, Trust(SANDBOX_BASE_USER_ARN))
            report(
                f"account {result.account_id} ({stage}): {len(result.created)} created, "
                f"{len(result.existing)} already there"
            )
            results.append(result)
        return results

    # -- status, env, stopping -----------------------------------------------------------------

    def status(self) -> list[PartStatus]:
        state = self.state
        rows = [
            PartStatus("moto", state.moto_url, moto_server.answers(state), state.pids.get("moto")),
            *(
                PartStatus(f"registry:{r.stage}", f"http://{r.address}", registries.answers(r), r.pid)
                for r in state.registries.values()
            ),
            PartStatus(
                "mariadb",
                f"127.0.0.1:{state.mariadb_port}",
                mariadb.answers(state),
                state.pids.get("mariadb"),
            ),
            *(
                [PartStatus("postgres", self._address("postgres"), postgres.answers(state), state.pids.get("postgres"))]
                if state.prefect_database == "postgresql"
                else []
            ),
            PartStatus("docker", state.docker_host, docker_engine.answers(state), state.pids.get("docker")),
            PartStatus(
                "prefect",
                f"{state.prefect_api_url.removesuffix('/api')} (its runs in {state.prefect_database})",
                prefect_server.answers(state),
                state.pids.get("prefect"),
            ),
            *(
                PartStatus(
                    f"worker:{prefect_worker.name(n)}",
                    f"work pool {WORK_POOL}",
                    alive(state.pids.get(prefect_worker.pid_key(n))),
                    state.pids.get(prefect_worker.pid_key(n)),
                )
                for n in range(1, state.workers + 1)
            ),
            *(
                [
                    PartStatus(
                        f"worker:{ecs_pool.WORKER_NAME}",
                        f"work pool {ECS_WORK_POOL} (ECS tasks of {state.ecs_pool_image})",
                        alive(state.pids.get(ecs_pool.PID_KEY)),
                        state.pids.get(ecs_pool.PID_KEY),
                    )
                ]
                if state.ecs_pool_image
                else []
            ),
        ]
        return rows

    def down(self, keep_networks: bool = True) -> Stopped:
        """Stop every part: what was stopped in flight, and the pids of stragglers the final sweep had to kill.
        ``keep_networks=False`` (a sandbox that is not coming back) removes the Docker networks it made first, with
        their containers."""
        state = self.state
        # the runs in flight, asked of the server before their workers stop, marked Crashed once they have
        in_flight = runs_in_flight(state, [WORK_POOL, ECS_WORK_POOL]) if prefect_server.answers(state) else []
        # moto before the engine: its ECS runtime would replace the tasks the engine stops, and it saves its
        # state on the way out (sandbox/sandbox/moto_state.py)
        workers = sorted((key for key in state.pids if key.startswith("worker")), reverse=True)
        for worker in workers:
            stop_worker(state.pids.pop(worker, None))
        interrupted = mark_crashed(state, in_flight) if in_flight else []
        for part in ["prefect", "moto", "docker", "mariadb", "postgres"]:
            if part == "docker" and not keep_networks and self._answers("docker"):
                self._remove_networks()
            stop(state.pids.pop(part, None))
        for registry in state.registries.values():
            stop(registry.pid)
            registry.pid = None
        leftovers = sweep([self.root, state.runtime_dir])
        if self.root.is_dir():
            state.save()
        return Stopped(interrupted, leftovers)

    def _remove_networks(self) -> None:
        from sandbox.ecs_runtime.networks import remove_sandbox_networks

        engine = docker_engine.client(self.state)
        try:
            remove_sandbox_networks(engine)
        except docker.errors.DockerException:
            pass  # the engine is going down anyway: its bridges are then left, as before
        finally:
            engine.close()

    def purge(self) -> None:
        """Stop everything and delete the sandbox's folders."""
        self.down(keep_networks=False)
        for folder in (self.root, self.state.runtime_dir):
            shutil.rmtree(folder, ignore_errors=True)

    def env_lines(self) -> list[str]:
        """``export`` lines for a shell: endpoint, per-stage profiles, registries, Docker, Prefect.

        No password is printed: AWS profiles, the Docker client config and the Prefect login live in files of mode
        0600, which the lines read.
        """
        state = self.state
        lines = [
            f"export CLOUDOPS_SANDBOX_DIR={self.root}",
            f"export AWS_ENDPOINT_URL={state.moto_url}",
            f"export AWS_CONFIG_FILE={self.root / 'aws' / 'config'}",
            f"export AWS_SHARED_CREDENTIALS_FILE={self.root / 'aws' / 'credentials'}",
            f"export AWS_DEFAULT_REGION={self.settings.stage(self.settings.build_stage).region}",
            f"export AWS_PROFILE={self.settings.build_stage}",
            f"export DOCKER_HOST={state.docker_host}",
            f"export DOCKER_CONFIG={self.root / 'docker-config'}",
            f"export PREFECT_API_URL={state.prefect_api_url}",
            f'export PREFECT_API_AUTH_STRING="$(cat {state.prefect_login_file})"',  # the server's login, from its file
            f"export CLOUDOPS_MYSQL=mysql://{MYSQL_USER}@127.0.0.1:{state.mariadb_port}",
            f"export {RDS_DATABASES_ENV}={SANDBOX_RDS_DATA}",
        ]
        for stage, registry in state.registries.items():
            lines.append(f"export CLOUDOPS_REGISTRY_{stage.upper().replace('-', '_')}={registry.address}")
        return lines

    def write_client_config(self) -> None:
        """AWS CLI profiles and a Docker client config logged in to every registry.

        Per stage: ``<stage>`` (the account's administrator) and a profile per pipeline role,
        ``<stage>-<role kind>`` (``qa-approver`` signs an approval as QA's approver role)."""
        aws = self.root / "aws"
        aws.mkdir(parents=True, exist_ok=True)
        config = [f"[profile sandbox]\nregion = {self.settings.stage(self.settings.build_stage).region}\n"]
        for stage in self.settings.promotion_order():
            conf = self.settings.stage(stage)
            roles = [(stage, SANDBOX_ROLE_NAME)]
            # not the execution role: CloudFormation alone may assume it
            roles += [(f"{stage}-{r.kind}", r.name) for r in roles_of_stage(self.settings, stage) if not r.service]
            config.extend(
                f"[profile {profile}]\nregion = {conf.region}\n"
                f"role_arn = {self.state.role_arn(conf.account_id, role)}\n"
                f"source_profile = sandbox\nrole_session_name = cloudops-{stage}\n"
                f"endpoint_url = {self.state.moto_url}\n"
                for profile, role in roles
            )
        write_private(aws / "config", "\n".join(config))
        write_private(
            aws / "credentials",
            f"[sandbox]\naws_access_key_id = {SANDBOX_ACCESS_KEY_ID}\n"
            f"aws_secret_access_key = {SANDBOX_SECRET_ACCESS_KEY}\n",
        )
        auths = {
            registry.address: {
                "auth": base64.b64encode(f"{REGISTRY_USER}:{registry.password.get_secret_value()}".encode()).decode()
            }
            for registry in self.state.registries.values()
        }
        docker_config = self.root / "docker-config"
        docker_config.mkdir(parents=True, exist_ok=True)
        write_private(docker_config / "config.json", json.dumps({"auths": auths}, indent=2))

    # -- internals -----------------------------------------------------------------------------

    def _load_or_plan_state(self) -> SandboxState:
        state = SandboxState.load(self.root)
        order = self.settings.promotion_order()
        stages = [stage for stage in order if state is None or stage not in state.registries]
        # Picked together, so no two parts are given the same port: the three servers' (for a new sandbox)
        # and the registries' still missing
        ports = free_ports((3 if state is None else 0) + len(stages)) if self.auto_ports else []
        if state is None:
            state = SandboxState(
                root=self.root,
                moto_port=ports.pop() if ports else DEFAULT_PORTS["moto"],
                mariadb_port=ports.pop() if ports else DEFAULT_PORTS["mariadb"],
                prefect_port=ports.pop() if ports else DEFAULT_PORTS["prefect"],
            )
        taken = {state.moto_port, state.mariadb_port, state.prefect_port} | {r.port for r in state.registries.values()}
        for stage in stages:
            port = ports.pop() if ports else DEFAULT_PORTS["registries"] + order.index(stage)
            while port in taken:
                port = free_port()
            taken.add(port)
            state.registries[stage] = RegistryState(stage=stage, port=port)
        return state

    def _answers(self, part: str) -> bool:
        state = self.state
        if part == "moto":
            return moto_server.answers(state)
        if part == "registries":
            return all(registries.answers(r) for r in state.registries.values())
        if part == "mariadb":
            return mariadb.answers(state)
        if part == "docker":
            return docker_engine.answers(state)
        if part == "worker":
            return prefect_worker.answers(state) and (
                not state.ecs_pool_image or alive(state.pids.get(ecs_pool.PID_KEY))
            )
        if part == "postgres":
            return postgres.answers(state)
        return prefect_server.answers(state)

    def _address(self, part: str) -> str:
        state = self.state
        return {
            "moto": state.moto_url,
            "registries": ", ".join(f"{s}={r.address}" for s, r in state.registries.items()),
            "mariadb": f"127.0.0.1:{state.mariadb_port}",
            "postgres": f"127.0.0.1:{state.postgres_port} (the Prefect server's database)",
            "docker": state.docker_host,
            "prefect": state.prefect_api_url.removesuffix("/api"),
            "worker": f"{_workers(state.workers)} of work pool {WORK_POOL}, running flows in {self.project_dir}",
        }[part]

    def configure(self, prefect_database: PrefectDatabase | None = None, workers: int | None = None) -> None:
        """Choose the Prefect server's database and the number of workers for the next ``up``. The database
        cannot change under a running server (its runs are in the one it has)."""
        state = self.state
        if prefect_database is not None and prefect_database != state.prefect_database:
            if prefect_server.answers(state):
                raise SandboxError(
                    f"the sandbox's Prefect server runs on {state.prefect_database}; run `cloudops sandbox down` "
                    f"first to move it to {prefect_database} (its runs stay in {state.prefect_database})"
                )
            state.prefect_database = prefect_database
        if state.prefect_database == "postgresql" and not state.postgres_port:
            state.postgres_port = free_port() if self.auto_ports else DEFAULT_PORTS["postgres"]
        if workers is not None:
            if not 1 <= workers <= MAX_WORKERS:
                raise SandboxError(f"--workers {workers}: give 1 to {MAX_WORKERS} workers")
            for number in range(workers + 1, state.workers + 1):  # fewer than before: the extra ones stop
                stop_worker(state.pids.pop(prefect_worker.pid_key(number), None))
            state.workers = workers

    def is_running(self) -> bool:
        return any(alive(pid) for pid in self.state.pids.values())
