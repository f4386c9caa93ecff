"""One deploy of the latest release as KIND in STAGE, timed from its start to every new task answering; run by
bench/runtime_bench.py with the sandbox's environment. Prints one JSON line.

  uv run python bench/deploy_once.py KIND STAGE [--fresh]

--fresh tears the kind down first, so the deploy creates everything (databases, volumes, load balancers).
"Answering": every ECS service of the kind's clusters COMPLETED with its desired count running, and each
published AppEndpoint's /health giving 200.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from cloudops.aws.session import AccountSession
from cloudops.settings import load_settings
from sandbox.sandbox import Sandbox


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=3) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


def settled(account: AccountSession, cluster: str) -> bool:
    ecs: Any = account.client("ecs")
    names = ecs.list_services(cluster=cluster)["serviceArns"]
    if not names:
        return False
    for service in ecs.describe_services(cluster=cluster, services=names)["services"]:
        (primary, *others) = service["deployments"]
        if others or primary["rolloutState"] != "COMPLETED" or service["runningCount"] != service["desiredCount"]:
            return False
    return True


def main() -> None:
    from flows.deploy_and_rollback import deploy_environment
    from flows.teardown_environment import teardown_environment

    kind, stage = sys.argv[1], sys.argv[2]
    sandbox = Sandbox(Path(os.environ["CLOUDOPS_SANDBOX_DIR"]), load_settings())
    if "--fresh" in sys.argv:
        teardown_environment(stage=stage, kind=kind, confirm=f"{stage}/{kind}")  # type: ignore[arg-type]
        time.sleep(5)  # the torn-down tasks stop
    start = time.perf_counter()
    outcomes = deploy_environment(stage=stage, kind=kind)  # type: ignore[arg-type]
    deployed = time.perf_counter() - start
    account = sandbox.account(stage)
    clusters = {o.outputs["ClusterName"] for o in outcomes if "ClusterName" in o.outputs}
    endpoints = [o.outputs["AppEndpoint"] for o in outcomes if o.outputs.get("AppEndpoint")]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if all(settled(account, c) for c in clusters) and all(answers(e) for e in endpoints):
            break
        time.sleep(0.25)
    else:
        raise SystemExit(f"{kind} in {stage} did not settle within 300 s")
    answering = time.perf_counter() - start
    print(json.dumps({"kind": kind, "deploy_s": round(deployed, 1), "answering_s": round(answering, 1)}))


if __name__ == "__main__":
    main()
