"""The sandbox's Prefect server on SQLite against PostgreSQL, under the load of five runs at once.

Run by hand from the repository root:  uv run python bench/prefect_db_bench.py
For each database, a sandbox of its own (bench/.work/prefect-<database>, free ports) starts only its Prefect
server (and PostgreSQL), then five processes each run bench/prefect_load_flow.py at the same moment (a flow of
4 subflows of 10 tasks: what the server records, nothing else). Meanwhile a probe asks the API for one flow run
every 0.2 s. Figures: the five's wall time, and the probe's latency (median, 95th percentile) under that load;
PostgreSQL's as a ratio of SQLite's, measured side by side in one run.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from cloudops.settings import load_settings
from sandbox.sandbox import Sandbox
from sandbox.state import PrefectDatabase

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "bench" / ".work"
RUNS = 5


def measure(database: PrefectDatabase) -> tuple[float, float, float]:
    """Wall time of the five runs, and the probe's median and 95th-percentile latency (seconds)."""
    root = WORK / f"prefect-{database}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    root.chmod(0o755)
    sandbox = Sandbox(root, load_settings(REPO / "cloudops.toml"), auto_ports=True)
    sandbox.configure(prefect_database=database)
    try:
        sandbox.up(["postgres", "prefect"], report=lambda line: None)
        state = sandbox.state
        login = state.prefect_login.get_secret_value()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env |= {"PREFECT_API_URL": state.prefect_api_url, "PREFECT_API_AUTH_STRING": login}
        latencies: list[float] = []
        done = threading.Event()

        def probe() -> None:
            user, password = login.split(":", 1)
            with httpx.Client(base_url=state.prefect_api_url, auth=(user, password), timeout=30) as client:
                while not done.is_set():
                    started = time.perf_counter()
                    client.post("/flow_runs/filter", json={"limit": 1}).raise_for_status()
                    latencies.append(time.perf_counter() - started)
                    time.sleep(0.2)

        prober = threading.Thread(target=probe, daemon=True)
        prober.start()
        started = time.perf_counter()
        processes = [
            subprocess.Popen(
                [sys.executable, str(REPO / "bench" / "prefect_load_flow.py"), str(n)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for n in range(RUNS)
        ]
        for process in processes:
            _, errors = process.communicate(timeout=600)
            if process.returncode != 0:
                raise SystemExit(f"a load run failed on {database}:\n{errors.decode()[-2000:]}")
        wall = time.perf_counter() - started
        done.set()
        prober.join(timeout=30)
        return wall, statistics.median(latencies), statistics.quantiles(latencies, n=20)[-1]
    finally:
        sandbox.purge()


def main() -> None:
    figures = {database: measure(database) for database in ("sqlite", "postgresql")}
    for database, (wall, median, p95) in figures.items():
        print(f"{database:<10} {RUNS} runs at once: {wall:.1f} s; API latency median {median * 1000:.0f} ms, "
              f"95th percentile {p95 * 1000:.0f} ms")  # fmt: skip
    (sqlite, postgresql) = figures["sqlite"], figures["postgresql"]
    print(
        f"postgresql / sqlite: wall time {postgresql[0] / sqlite[0]:.2f}x, latency median "
        f"{postgresql[1] / sqlite[1]:.2f}x, 95th percentile {postgresql[2] / sqlite[2]:.2f}x"
    )


if __name__ == "__main__":
    main()
