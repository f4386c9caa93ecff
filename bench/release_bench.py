"""The full release of the example application on the sandbox: cold, then with no change; and the
orchestration overhead: the same flow graph with each task's work replaced by a no-op; and what each stage's
verification (steady services, healthy targets, smoke checks) took, read from the audit trail.

Run by hand from the repository root:  uv run python bench/release_bench.py
It uses a sandbox of its own (bench/.work/release-sandbox, free ports), purged first so the cold run
builds everything (the Debian base image too), and purged at the end. The release with no change runs three
times (the median is reported); bench/release_timeline.py shows where the last one's time went.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from cloudops.settings import load_settings
from sandbox.sandbox import Sandbox

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "bench" / ".work"
SANDBOX = WORK / "release-sandbox"
PARTS = ("moto", "registries", "mariadb", "docker", "prefect")
PROGRESS = re.compile(r"\[\s*(\d+) s\] (.*)$")
NO_CHANGE_RUNS = 3


def environment(sandbox: Sandbox) -> dict[str, str]:
    env = dict(os.environ)
    for line in sandbox.env_lines():
        key, value = line.removeprefix("export ").split("=", 1)
        env[key] = value
    return env | {"PREFECT_SERVER_ANALYTICS_ENABLED": "false"}


def release(env: dict[str, str], name: str) -> tuple[float, list[tuple[int, str]]]:
    """One `cloudops release` to prod as a whole command: its time and its progress lines."""
    command = [
        str(Path(sys.executable).parent / "cloudops"),
        "release",
        "--ref",
        "HEAD",
        "--to",
        "prod",
        "--auto-approve",
    ]
    start = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False, cwd=REPO)
    elapsed = time.perf_counter() - start
    (WORK / f"release-{name}.log").write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise SystemExit(f"the {name} release failed; see {WORK / f'release-{name}.log'}")
    output = (result.stdout + result.stderr).splitlines()  # Prefect's console log goes to stderr
    steps = [(int(m.group(1)), m.group(2)) for line in output if (m := PROGRESS.search(line))]
    return elapsed, steps


def script(name: str, env: dict[str, str]) -> str:
    """What another script of bench/ prints, run against the sandbox."""
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / name)], env=env, capture_output=True, text=True, check=True, cwd=REPO
    )
    return done.stdout


def per_stage(steps: list[tuple[int, str]]) -> list[str]:
    """The time from each progress line to the next."""
    rows = []
    for (at, what), (next_at, _) in zip(steps, steps[1:], strict=False):
        rows.append(f"| {what[:70]} | {next_at - at} s |")
    return rows


def verifications(sandbox: Sandbox, since: datetime) -> list[tuple[str, float, str]]:
    """Each deploy's verification recorded since ``since``: stage, seconds, and its one line."""
    from cloudops import audit

    settings = load_settings(REPO / "cloudops.toml")
    build = settings.build_stage
    application = settings.require_application().name
    trail = audit.entries(sandbox.account(build), settings.stage(build).bucket, application)
    return [
        (e.stage, (e.at - datetime.fromisoformat(e.detail["started_at"])).total_seconds(), e.comment)
        for e in trail
        if e.kind == "verification" and e.at >= since
    ]


def verified_rows(name: str, elapsed: float, found: list[tuple[str, float, str]]) -> list[str]:
    total = sum(seconds for _, seconds, _ in found)
    rows = [f"| {name} | {stage} | {seconds:.1f} s | {line} |" for stage, seconds, line in found]
    return [*rows, f"| {name} | all | {total:.1f} s ({total / elapsed:.1%} of the command's {elapsed:.1f} s) | |"]


def main() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    sandbox = Sandbox(SANDBOX, load_settings(REPO / "cloudops.toml"), auto_ports=True)
    sandbox.purge()
    sandbox = Sandbox(SANDBOX, load_settings(REPO / "cloudops.toml"), auto_ports=True)
    try:
        sandbox.up(PARTS, report=lambda line: None)
        sandbox.initialise_accounts(report=lambda line: None)
        from sandbox.command_line.sandbox_blocks import save_sandbox_blocks_in_its_server

        save_sandbox_blocks_in_its_server(sandbox)
        env = environment(sandbox)
        started = datetime.now(UTC)
        cold, cold_steps = release(env, "cold")
        cold_checks = verifications(sandbox, started)
        warm = [release(env, f"no-change-{n}") for n in range(1, NO_CHANGE_RUNS)]
        last_started = datetime.now(UTC)
        warm.append(release(env, f"no-change-{NO_CHANGE_RUNS}"))
        warm_checks = verifications(sandbox, last_started)
        noop = script("noop_release.py", env).strip()
        timeline = script("release_timeline.py", env)
    finally:
        sandbox.purge()
    cold_flow = cold_steps[-1][0] if cold_steps else 0
    commands = sorted(elapsed for elapsed, _ in warm)
    flows = sorted(steps[-1][0] if steps else 0 for _, steps in warm)
    command, flow = statistics.median(commands), statistics.median(flows)
    print(f"cold: {cold:.1f} s as a command, {cold_flow} s of flow (first to last progress line)")
    print(
        f"no change (median of {len(warm)}): {command:.1f} s as a command ({command / cold:.1%}; "
        f"{commands[0]:.1f}-{commands[-1]:.1f} s), {flow} s of flow ({flow / cold_flow:.1%}; {flows[0]}-{flows[-1]} s)"
    )
    print(f"no-op graph: {noop}")
    print("cold, per step:")
    print("\n".join(per_stage(cold_steps)))
    print("no change (the last run), per step:")
    print("\n".join(per_stage(warm[-1][1])))
    print("verification (each deploy's, from the audit trail):")
    print("\n".join([*verified_rows("cold", cold, cold_checks), *verified_rows("no change", warm[-1][0], warm_checks)]))
    print("no change (the last run), every subflow and task:")
    print(timeline)


if __name__ == "__main__":
    main()
