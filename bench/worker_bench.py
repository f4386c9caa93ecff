"""Five releases of five applications as deployment runs: one worker against three, SQLite against PostgreSQL.

Run by hand from the repository root:  uv run python bench/worker_bench.py
One sandbox of its own (bench/.work/worker-sandbox, free ports). For each of (sqlite, 1 worker), (sqlite,
3 workers), (postgresql, 1 worker), (postgresql, 3 workers): the sandbox comes up with that Prefect database and
that many process workers, the deployments and blocks are made in its server, and five new applications (each
its own name and commit: its own package, images, snapshots, stacks and records) are released to QA at the same
moment as runs of the `release` deployment, each with its own CLOUDOPS_CONFIG_FILE (a job variable). Meanwhile
a probe asks the Prefect API for one flow run every 0.2 s.

Figures: the five runs' wall time, from their creation until the last one ended, and the probe's latency
(median, 95th percentile) under that load. Anchor: (sqlite, 1 worker), measured in the same run; every other
figure is its ratio. Checked: each run Completed, which worker ran it (the workers' own log lines), and each
application's records and endpoints are its own (load_bench's check).
"""

from __future__ import annotations

import os
import shutil
import statistics
import threading
import time
from collections import Counter
from pathlib import Path
from uuid import UUID

import httpx
from load_bench import WORK, application, check_apart, environment, remove_stacks  # bench/ is on sys.path

from cloudops.settings import load_settings
from sandbox.sandbox import Sandbox
from sandbox.state import PrefectDatabase

REPO = Path(__file__).resolve().parent.parent
SANDBOX = REPO / "bench" / ".work" / "worker-sandbox"
APPS = 5
CONFIGURATIONS: list[tuple[PrefectDatabase, int]] = [("sqlite", 1), ("sqlite", 3), ("postgresql", 1), ("postgresql", 3)]


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
    from cli.sandbox_blocks import save_sandbox_blocks_in_its_server
    from deployments.project import create_deployments

    save_sandbox_blocks_in_its_server(sandbox)
    saved = dict(os.environ)
    os.environ.update(environment(sandbox, REPO / "cloudops.toml"))
    try:
        create_deployments(REPO)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def start_release(client: httpx.Client, deployment: UUID, config: Path) -> UUID:
    env = {"CLOUDOPS_CONFIG_FILE": str(config), "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30"}
    created = client.post(
        f"/deployments/{deployment}/create_flow_run",
        json={"parameters": {"ref": "main", "to_stage": "qa"}, "job_variables": {"env": env}},
    )
    created.raise_for_status()
    return UUID(created.json()["id"])


def run_releases(sandbox: Sandbox, tag: str, count: int = APPS) -> Figures:
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
        deployment = UUID(client.get("/deployments/name/release/release").json()["id"])
        prober = threading.Thread(target=probe, daemon=True)
        prober.start()
        started = time.perf_counter()
        runs = [start_release(client, deployment, config) for config in configs]
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
    for log in sandbox.state.logs.glob("prefect-worker*.log"):
        text = log.read_text(errors="replace")
        by_worker[log.stem] += sum(f"Flow run '{name}' submitted to infrastructure" in text for name in names)
    for config in configs:
        print(f"    {check_apart(sandbox, config.parent.name)}")
        remove_stacks(sandbox, config.parent.name)
    return Figures(wall, latencies, by_worker)


def main() -> None:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    sandbox = Sandbox(SANDBOX, load_settings(REPO / "cloudops.toml"), auto_ports=True)
    sandbox.up(report=lambda line: None)
    figures: dict[tuple[PrefectDatabase, int], Figures] = {}
    try:
        sandbox.initialise_accounts(report=lambda line: None)
        prepare(sandbox, "sqlite", 1)
        print("warm-up: one release builds the base image and starts QA")
        run_releases(sandbox, "warm", count=1)
        for database, workers in CONFIGURATIONS:
            prepare(sandbox, database, workers)
            print(f"{database}, {workers} worker(s):")
            found = figures[(database, workers)] = run_releases(sandbox, f"w{database[0]}{workers}")
            print(
                f"  {APPS} releases: {found.wall:.1f} s; API latency median {found.median * 1000:.0f} ms, 95th "
                f"percentile {found.p95 * 1000:.0f} ms; runs per worker {dict(found.by_worker)}"
            )
    finally:
        sandbox.purge()
    anchor = figures[CONFIGURATIONS[0]]
    print("\nagainst (sqlite, 1 worker):")
    for (kind, count), found in figures.items():
        print(
            f"  {kind:<10} {count} worker(s): wall {found.wall / anchor.wall:.2f}x, latency median "
            f"{found.median / anchor.median:.2f}x, 95th percentile {found.p95 / anchor.p95:.2f}x"
        )


if __name__ == "__main__":
    main()
