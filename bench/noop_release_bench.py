"""The demo's second run and its release with nothing to change: this checkout against an anchor commit, side by
side on the running demo sandbox.

Run by hand from the repository root, with the demo's sandbox up (`bash scripts/demo.sh` once):

    uv run python bench/noop_release_bench.py ANCHOR_COMMIT [ROUNDS]

The anchor is checked out in bench/.work/anchor (a git worktree; its scripts/setup.sh gives it a .venv of its own).
Each checkout runs `bash scripts/demo.sh` once unmeasured (the anchor's example application is a release of its
own, built cold there; each checkout creates the deployments from its folder), then ROUNDS times measured: the
demo's wall time, and its release flow's run time as the Prefect server recorded it. The anchor's rounds run first,
then this checkout's: the deployments each creates point at its own folder, so alternating would make every round
deploy them again.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowFilter, FlowFilterName
from prefect.client.schemas.sorting import FlowRunSort

REPO = Path(__file__).resolve().parent.parent
ANCHOR = REPO / "bench" / ".work" / "anchor"


def checkout(commit: str) -> Path:
    if ANCHOR.exists():
        subprocess.run(["git", "worktree", "remove", "--force", str(ANCHOR)], cwd=REPO, check=True)
    subprocess.run(["git", "worktree", "add", "--detach", str(ANCHOR), commit], cwd=REPO, check=True)
    return ANCHOR


def demo(folder: Path, log: Path) -> tuple[float, float]:
    """`bash scripts/demo.sh` in ``folder`` on the running sandbox: its wall time, and its release run's."""
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["CLOUDOPS_SANDBOX_DIR"] = str(REPO / ".sandbox")
    start = time.perf_counter()
    done = subprocess.run(["bash", "scripts/demo.sh"], cwd=folder, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    log.write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        raise SystemExit(f"the demo failed in {folder}; see {log}")
    with get_client(sync_client=True) as client:
        run = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["release"])), sort=FlowRunSort.START_TIME_DESC, limit=1
        )[0]
    assert run.start_time is not None and run.end_time is not None
    return wall, (run.end_time - run.start_time).total_seconds()


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit("usage: uv run python bench/noop_release_bench.py ANCHOR_COMMIT [ROUNDS]")
    commit, rounds = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 3
    anchor = checkout(commit)
    results: dict[str, list[tuple[float, float]]] = {}
    for label, folder in (("anchor", anchor), ("this checkout", REPO)):
        demo(folder, REPO / "bench" / ".work" / f"demo-{label.replace(' ', '-')}-warm-up.log")
        results[label] = [
            demo(folder, REPO / "bench" / ".work" / f"demo-{label.replace(' ', '-')}-{n}.log") for n in range(rounds)
        ]
        for wall, flow in results[label]:
            print(f"{label}: demo {wall:.1f} s, release flow {flow:.1f} s", flush=True)
    medians = {label: tuple(statistics.median(r[i] for r in runs) for i in (0, 1)) for label, runs in results.items()}
    (a_wall, a_flow), (b_wall, b_flow) = medians["anchor"], medians["this checkout"]
    print(f"median of {rounds}: anchor {commit}: demo {a_wall:.1f} s, release flow {a_flow:.1f} s")
    print(f"median of {rounds}: this checkout: demo {b_wall:.1f} s, release flow {b_flow:.1f} s")
    print(f"this checkout / anchor: demo {b_wall / a_wall:.2f}x, release flow {b_flow / a_flow:.2f}x")


if __name__ == "__main__":
    main()
