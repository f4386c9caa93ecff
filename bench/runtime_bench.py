"""The sandbox's ECS runtime: how long a deploy takes to answer, per kind, and what the runtime costs idle.

Run by hand from the repository root:  uv run python bench/runtime_bench.py
It uses a sandbox of its own (bench/.work/runtime-sandbox, free ports), purged first, releases the example
application to prod (QA, staging and prod then run it), then:

1. per kind, in QA: a fresh deploy (the kind torn down first) timed from the flow's start to every service
   COMPLETED and every endpoint answering (bench/deploy_once.py). Anchor, in the same run: `docker run` of
   the same app image on the same engine, timed to its /health answering: what the engine alone needs.
2. idle cost: the moto process (moto and the runtime in it, serving every running stage) over IDLE_SECONDS
   with no deploy, against a bare moto server started beside it, measured over the same seconds: CPU
   seconds and resident memory of each.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import docker
from release_bench import environment  # bench/, the script's own folder, is on sys.path

from cloudops.deploy import ECS_AMI_PARAMETER
from cloudops.settings import load_settings
from sandbox.processes import spawn, stop
from sandbox.sandbox import Sandbox

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "bench" / ".work"
SANDBOX = WORK / "runtime-sandbox"
PARTS = ("moto", "registries", "mariadb", "docker", "prefect")
KINDS = ("author-live", "single-instance", "lookup-service")
IDLE_SECONDS = 120
TICKS = os.sysconf("SC_CLK_TCK")


def run(command: list[str], env: dict[str, str], log: str) -> str:
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False, cwd=REPO)
    (WORK / log).write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])} failed; see {WORK / log}")
    return result.stdout


def release(env: dict[str, str]) -> None:
    cloudops = str(Path(sys.executable).parent / "cloudops")
    command = [cloudops, "release", "--ref", "HEAD", "--to", "prod", "--auto-approve"]
    run(command, env, "runtime-release.log")


def deploy(env: dict[str, str], kind: str) -> dict[str, float]:
    script = str(REPO / "bench" / "deploy_once.py")
    out = run([sys.executable, script, kind, "qa", "--fresh"], env, f"deploy-{kind}.log")
    found: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return found


def plain_docker_run(sandbox: Sandbox) -> float:
    """`docker run` of QA's app image (already on the engine) to its /health answering, on a bench network."""
    engine = docker.DockerClient(base_url=sandbox.state.docker_host)
    image = next(i for i in engine.images.list() if any("/app@" in d for d in i.attrs.get("RepoDigests", [])))
    network = engine.networks.create(f"bench-anchor-{os.getpid()}", driver="bridge", internal=True)
    try:
        start = time.perf_counter()
        container = engine.containers.run(image.id, detach=True, network=network.name)
        try:
            while True:
                container.reload()
                address = container.attrs["NetworkSettings"]["Networks"][network.name]["IPAddress"]
                try:
                    with urllib.request.urlopen(f"http://{address}:8080/health", timeout=2) as reply:
                        if reply.status == 200:
                            return time.perf_counter() - start
                except OSError:
                    time.sleep(0.05)
        finally:
            container.remove(force=True)
    finally:
        network.remove()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def resident_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def warm(port: int) -> None:
    """The bare moto asked once what a deploy asks of each service, so it loads what moto loads on first use
    (EC2's catalogues, SSM's public parameters ...), as the sandbox's moto has."""
    import boto3

    session = boto3.Session(aws_access_key_id="bench", aws_secret_access_key="bench", region_name="eu-west-1")
    url = f"http://127.0.0.1:{port}"
    session.client("ec2", endpoint_url=url).describe_vpcs()
    session.client("ec2", endpoint_url=url).describe_images(Owners=["amazon"])
    session.client("ssm", endpoint_url=url).get_parameters(Names=[ECS_AMI_PARAMETER])
    for service, call in (
        ("ecs", "list_clusters"),
        ("rds", "describe_db_instances"),
        ("elbv2", "describe_load_balancers"),
        ("logs", "describe_log_groups"),
        ("cloudformation", "list_stacks"),
        ("s3", "list_buckets"),
        ("iam", "list_roles"),
        ("efs", "describe_file_systems"),
        ("ecr", "describe_repositories"),
        ("autoscaling", "describe_auto_scaling_groups"),
    ):
        getattr(session.client(service, endpoint_url=url), call)()


def idle_cost(sandbox: Sandbox) -> dict[str, tuple[float, float]]:
    """(CPU seconds over IDLE_SECONDS, resident MiB at the end) of the sandbox's moto and of a bare one that served
    the same APIs once."""
    port = free_port()
    bare = spawn([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], WORK / "bare-moto.log")
    try:
        time.sleep(5)
        warm(port)
        time.sleep(5)  # both settle: the bare one warmed, the sandbox's last deploy long done
        pids = {"sandbox moto + ECS and RDS runtimes": sandbox.state.pids["moto"], "bare moto, warmed": bare}
        before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        time.sleep(IDLE_SECONDS)
        return {name: (cpu_seconds(pid) - before[name], resident_mib(pid)) for name, pid in pids.items()}
    finally:
        stop(bare)


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
        release(env)
        anchor = min(plain_docker_run(sandbox) for _ in range(3))
        deploys = [deploy(env, kind) for kind in KINDS]
        idle = idle_cost(sandbox)
    finally:
        sandbox.purge()
    print(f"anchor: docker run of the app image to /health answering: {anchor:.2f} s (best of 3)")
    print("| kind (fresh, in QA) | deploy flow | to answering | ratio to the anchor |")
    print("| --- | --- | --- | --- |")
    for found in deploys:
        print(
            f"| {found['kind']} | {found['deploy_s']:.1f} s | {found['answering_s']:.1f} s "
            f"| {found['answering_s'] / anchor:.0f}x |"
        )
    print(f"idle, {IDLE_SECONDS} s, QA (three kinds), staging and prod running:")
    print("| process | CPU seconds | share of one core | resident memory |")
    print("| --- | --- | --- | --- |")
    for name, (cpu, rss) in idle.items():
        print(f"| {name} | {cpu:.2f} s | {cpu / IDLE_SECONDS:.2%} | {rss:.0f} MiB |")
    (ours_cpu, ours_rss), (bare_cpu, bare_rss) = idle.values()
    print(f"ratio: CPU {ours_cpu / max(bare_cpu, 0.01):.1f}x, memory {ours_rss / bare_rss:.1f}x the bare moto's")


if __name__ == "__main__":
    main()
