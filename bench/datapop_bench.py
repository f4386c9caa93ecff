"""Apply a 100,000-row data set: populate() against piping the same SQL into the `mariadb` client.

Run by hand: uv run python bench/datapop_bench.py. It starts a MariaDB of its own (the sandbox's code).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from cloudops.datapop import MySqlTarget, populate
from cloudops.settings import load_settings
from sandbox.sandbox import Sandbox
from sandbox.state import MYSQL_USER

WORK = Path(__file__).resolve().parent / ".work" / "datapop"
ROWS = 100_000


def make_datasets(root: Path) -> Path:
    common = root / "datasets" / "common"
    common.mkdir(parents=True)
    (common / "V0001__schema.sql").write_text(
        "CREATE TABLE item (id INT PRIMARY KEY, name VARCHAR(64) NOT NULL, price INT NOT NULL) ENGINE=InnoDB;\n"
    )
    lines = [f"INSERT INTO item (id, name, price) VALUES ({i}, 'item; number {i}', {i % 997});" for i in range(ROWS)]
    (common / "V0002__items.sql").write_text("\n".join(lines) + "\n")
    return root / "datasets"


def main() -> None:
    shutil.rmtree(WORK, ignore_errors=True)
    datasets = make_datasets(WORK)
    box = Sandbox(
        WORK / "sandbox", load_settings(Path(__file__).resolve().parent.parent / "cloudops.toml"), auto_ports=True
    )
    box.up(["mariadb"], report=lambda line: None)
    try:
        state = box.state
        password = state.mariadb_password.get_secret_value()
        results: dict[str, list[float]] = {"populate": [], "client": []}
        for round_ in range(3):
            target = MySqlTarget(
                host="127.0.0.1",
                port=state.mariadb_port,
                user=MYSQL_USER,
                password=state.mariadb_password,
                database=f"bench_ours_{round_}",
            )
            start = time.perf_counter()
            report = populate(target, datasets, "author")
            results["populate"].append(time.perf_counter() - start)
            assert report.applied == ["V0001__common__schema", "V0002__common__items"]

            database = f"bench_client_{round_}"
            client = ["mariadb", "-h127.0.0.1", f"-P{state.mariadb_port}", f"-u{MYSQL_USER}", f"-p{password}"]
            subprocess.run([*client, "-e", f"CREATE DATABASE {database}"], check=True)
            start = time.perf_counter()
            with (datasets / "common" / "V0001__schema.sql").open() as schema:
                subprocess.run([*client, database], stdin=schema, check=True)
            with (datasets / "common" / "V0002__items.sql").open() as items:
                subprocess.run([*client, database], stdin=items, check=True)
            results["client"].append(time.perf_counter() - start)
            ours, theirs = results["populate"][-1], results["client"][-1]
            print(f"run {round_ + 1}: populate {ours:.2f} s, mariadb client {theirs:.2f} s")
        best_ours, best_client = min(results["populate"]), min(results["client"])
        ratio = best_ours / best_client
        print(f"best: populate {best_ours:.2f} s, mariadb client {best_client:.2f} s; ratio {ratio:.2f}x")
    finally:
        box.purge()
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
