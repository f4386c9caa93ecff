"""Five releases of five applications as deployment runs: one worker against three, SQLite against PostgreSQL,
the process pool against the ECS pool.

Run by hand from the repository root:  uv run python bench/worker_bench.py [CONFIGURATION ...]
(configurations: sqlite-1, sqlite-3, postgresql-1, postgresql-3, postgresql-ecs; all of them by default; the
first named is the anchor). One sandbox of its own (bench/.work/worker-sandbox, free ports). For each: the
sandbox comes up with that Prefect database and that many process workers, the deployments and blocks are made
in its server, and five new applications (each its own name and commit: its own package, images, snapshots,
stacks and records) are released to QA at the same moment as runs of the `release` deployment, each with its
own CLOUDOPS_CONFIG_FILE (a job variable). For postgresql-ecs, the ECS pool is set up as `sandbox up --ecs-pool`
does (its flow-runner image built first, outside the timing) and the runs are of `release-on-ecs`: each an ECS
task of the flow-runner image, all five started at once by prefect-aws's worker. Meanwhile a probe asks the
Prefect API for one flow run every 0.2 s.

Figures: the five runs' wall time, from their creation until the last one ended, and the probe's latency
(median, 95th percentile) under that load. Anchor: (sqlite, 1 worker), measured in the same run; every other
figure is its ratio. Checked: each run Completed, which worker ran it (the workers' own log lines), and each
application's records and endpoints are its own (load_bench's check).
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from uuid import UUID

import httpx
from load_bench import WORK, application, check_apart, environment, remove_stacks  # bench/ is on sys.path

from cloudops.settings import load_settings
from sandbox import ecs_pool
from sandbox.sandbox import Sandbox
from sandbox.state import PrefectDatabase

REPO = Path(__file__).resolve().parent.parent
SANDBOX = REPO / "bench" / ".work" / "worker-sandbox"
APPS = 5
CONFIGURATIONS: dict[str, tuple[PrefectDatabase, int, str]] = {  # name: (database, process workers, deployment)
    "sqlite-1": ("sqlite", 1, "release"),
    "sqlite-3": ("sqlite", 3, "release"),
    "postgresql-1": ("postgresql", 1, "release"),
    "postgresql-3": ("postgresql", 3, "release"),
    "postgresql-ecs": ("postgresql", 1, "release-on-ecs"),
}


class Figures:
    def __init__(self, wall: float, latencies: list[float], by_worker: Counter[str]) -> None:
        self.wall = wall
        self.median = statistics.median(latencies)
        self.p95 = statistics.quantiles(latencies, n=20)[-1]
        self.by_worker = by_worker


def api(sandbox: Sandbox) -> httpx.Client:
    user, password = sandbox.state.prefect_login.get_secret_value().split(":", 1)
    return httpx.Client(base_url=sandbox.state.prefect_api_url, auth=(user, password), timeout=60)


def prepare(sandbox: Sandbox, database: PrefectDatabase, workers: int) -> None:
    """The sandbox up on ``database`` with ``workers`` workers; the deployments and blocks in its server."""
    sandbox.down()
    sandbox.configure(prefect_database=database, workers=workers)
    sandbox.up(report=lambda line: None)
    from deployments.project import create_deployments
    from sandbox.command_line.sandbox_blocks import save_sandbox_blocks_in_its_server

    save_sandbox_blocks_in_its_server(sandbox)
    saved = dict(os.environ)
    os.environ.update(environment(sandbox, REPO / "cloudops.toml"))
    try:
        create_deployments(REPO)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def start_release(client: httpx.Client, deployment: UUID, config: Path, env: dict[str, str]) -> UUID:
    env = env | {"CLOUDOPS_CONFIG_FILE": str(config), "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30"}
    created = client.post(
        f"/deployments/{deployment}/create_flow_run",
        json={"parameters": {"ref": "main", "to_stage": "qa"}, "job_variables": {"env": env}},
    )
    created.raise_for_status()
    return UUID(created.json()["id"])


def run_releases(sandbox: Sandbox, tag: str, count: int = APPS, deployment_name: str = "release") -> Figures:
    configs = [application(f"{tag}{n}") for n in range(count)]
    latencies: list[float] = []
    done = threading.Event()

    def probe() -> None:
        with api(sandbox) as client:
            while not done.is_set():
                started = time.perf_counter()
                client.post("/flow_runs/filter", json={"limit": 1}).raise_for_status()
                latencies.append(time.perf_counter() - started)
                time.sleep(0.2)

    with api(sandbox) as client:
        deployment = UUID(client.get(f"/deployments/name/release/{deployment_name}").json()["id"])
        # a run's `env` replaces the pool's: an ECS run needs the rest of what the pool gives (its engine, its RDS)
        env = ecs_pool.run_env(sandbox.state, REPO / "cloudops.toml") if deployment_name != "release" else {}
        prober = threading.Thread(target=probe, daemon=True)
        prober.start()
        started = time.perf_counter()
        runs = [start_release(client, deployment, config, env) for config in configs]
        while True:
            states = [client.get(f"/flow_runs/{run}").json()["state"] for run in runs]
            if all(s and s["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") for s in states):
                break
            time.sleep(1)
        wall = time.perf_counter() - started
        done.set()
        prober.join(timeout=60)
        names = [client.get(f"/flow_runs/{run}").json()["name"] for run in runs]
        failed = [
            (str(r), s["type"], s.get("message")) for r, s in zip(runs, states, strict=True) if s["type"] != "COMPLETED"
        ]
        if failed:
            raise SystemExit(f"{tag}: runs that did not complete: {failed}")
    by_worker: Counter[str] = Counter()
    for log in sandbox.state.logs.glob("prefect-*worker*.log"):
        text = log.read_text(errors="replace")
        by_worker[log.stem] += sum(f"Flow run '{name}' submitted to infrastructure" in text for name in names)
    for config in configs:
        print(f"    {check_apart(sandbox, config.parent.name)}")
        remove_stacks(sandbox, config.parent.name)
    return Figures(wall, latencies, by_worker)


def main() -> None:
    chosen = sys.argv[1:] or list(CONFIGURATIONS)
    unknown = [name for name in chosen if name not in CONFIGURATIONS]
    if unknown:
        raise SystemExit(f"unknown configuration(s) {unknown}; choose from {', '.join(CONFIGURATIONS)}")
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    sandbox = Sandbox(SANDBOX, load_settings(REPO / "cloudops.toml"), auto_ports=True)
    sandbox.up(report=lambda line: None)
    figures: dict[str, Figures] = {}
    try:
        sandbox.initialise_accounts(report=lambda line: None)
        prepare(sandbox, "sqlite", 1)
        print("warm-up: one release builds the base image and starts QA")
        run_releases(sandbox, "warm", count=1)
        for name in chosen:
            database, workers, deployment = CONFIGURATIONS[name]
            prepare(sandbox, database, workers)
            if deployment == "release-on-ecs":
                from sandbox.command_line.sandbox_ecs_pool import set_up_ecs_pool

                set_up_ecs_pool(sandbox, REPO / "cloudops.toml", report=lambda line: print(f"  {line}"))
            print(f"{name}:")
            found = figures[name] = run_releases(sandbox, f"w{name[0]}{name[-1]}", deployment_name=deployment)
            print(
                f"  {APPS} releases: {found.wall:.1f} s; API latency median {found.median * 1000:.0f} ms, 95th "
                f"percentile {found.p95 * 1000:.0f} ms; runs per worker {dict(found.by_worker)}"
            )
    finally:
        sandbox.purge()
    anchor = figures[chosen[0]]
    print(f"\nagainst {chosen[0]}:")
    for name, found in figures.items():
        print(
            f"  {name:<15} wall {found.wall / anchor.wall:.2f}x, latency median "
            f"{found.median / anchor.median:.2f}x, 95th percentile {found.p95 / anchor.p95:.2f}x"
        )


if __name__ == "__main__":
    main()
