"""Load on one sandbox: five releases of five different applications at once, and one promotion of 50 images.

Run by hand from the repository root:  uv run python bench/load_bench.py
It uses a sandbox of its own (bench/.work/load-sandbox, free ports; the base image is built once, first).

1. Anchor: one application's release to QA alone (`cloudops release --to qa`: build, promote, deploy, verify).
2. Five other applications (each its own name and commit, so its own package, app image, snapshots, stacks and
   records) released to QA at the same moment, each in a process of its own, once the anchor's and the warm-up's
   stacks are gone (so the five start from the machine the anchor had).
   To QA, not to prod: on this 2-core machine, five applications running in three stages at once (about 120
   containers, each health-checked every 5 s) starve the tasks' health checks and ECS's circuit breaker stops
   their deployments (measured: load average 130, two of five releases stopped in staging and prod).
   Checked: every command exits 0; each application's trail names only its own release, with its own digests;
   each stage's config store sends each application's endpoints to an app answering with its own version.
   Figure: the five's wall time against five times the anchor (1.0x: no better than one after another).
3. Anchor: a promotion to QA of a release of 5 images. Then one of 50 images (the built images and 47 small ones
   pushed to the build registry). Checked: QA's registry has each of the 50 by digest. Figure: seconds per image
   of the 50 against the 5.

For both, the rate the AWS APIs (moto) and the registries were asked at: requests per second, peak and mean,
counted from their request logs.
"""

from __future__ import annotations

import concurrent.futures
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from cloudops import audit
from cloudops.images import BuiltImage
from cloudops.promotion import release_digests
from cloudops.registry import RegistryClient
from cloudops.release import Release, save_release
from cloudops.settings import load_settings
from sandbox.sandbox import Sandbox

REPO = Path(__file__).resolve().parent.parent

WORK = REPO / "bench" / ".work" / "load"
SANDBOX = REPO / "bench" / ".work" / "load-sandbox"
PARTS = ("moto", "registries", "mariadb", "docker", "prefect")
CLOUDOPS = str(Path(sys.executable).parent / "cloudops")
EXAMPLE = REPO / "examples" / "commerce"
APPS = 5
TO_STAGE = "qa"
IMAGES = 50
BUILD_BUCKET = "cloudops-build-111111111111"
MOTO_LINE = re.compile(r"\[(\d\d/\w\w\w/\d{4} \d\d:\d\d:\d\d)\] \"")
REGISTRY_LINE = re.compile(r'time="(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)[^"]*".*response completed')


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


def application(name: str) -> Path:
    """A repository of the example application with a commit of its own, and its cloudops.toml; the config's path."""
    folder = WORK / name
    repo = folder / "src"
    shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns("dist", "__pycache__"))
    (repo / "LOAD_APPLICATION").write_text(name + "\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-q", "-m", name)
    text = (REPO / "cloudops.toml").read_text()
    text = text.replace('name = "commerce"', f'name = "{name}"')
    text = text.replace('repository = "."', f'repository = "{repo}"').replace(
        'subdirectory = "examples/commerce"', 'subdirectory = ""'
    )
    config = folder / "cloudops.toml"
    config.write_text(text)
    return config


def environment(sandbox: Sandbox, config: Path) -> dict[str, str]:
    """The sandbox's environment, as `eval "$(cloudops sandbox env)"` gives it, for application ``config``."""
    env = dict(os.environ)
    for line in sandbox.env_lines():
        key, value = line.removeprefix("export ").split("=", 1)
        env[key] = value
    env["PREFECT_API_AUTH_STRING"] = sandbox.state.prefect_login.get_secret_value()  # the line reads its file
    return env | {"CLOUDOPS_CONFIG_FILE": str(config), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}


def release(sandbox: Sandbox, config: Path) -> float:
    """`cloudops release --to TO_STAGE --auto-approve` of the application of ``config``; its seconds."""
    name = config.parent.name
    command = ["release", "--ref", "main", "--to", TO_STAGE, "--auto-approve"]
    return timed_command(sandbox, config, command, name, f"the release of {name}")


def timed_command(sandbox: Sandbox, config: Path, command: list[str], log: str, what: str) -> float:
    """`cloudops COMMAND` for the application of ``config``, its output in WORK/<log>.log; its seconds."""
    start = time.perf_counter()
    result = subprocess.run(
        [CLOUDOPS, *command], env=environment(sandbox, config), capture_output=True, text=True, check=False, cwd=REPO
    )
    elapsed = time.perf_counter() - start
    (WORK / f"{log}.log").write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise SystemExit(f"{what} failed; see {WORK / f'{log}.log'}")
    return elapsed


def check_apart(sandbox: Sandbox, name: str) -> str:
    """Each application's records name only its own release, and its stages run its own version."""
    build = sandbox.account("build")
    trail = audit.entries(build, BUILD_BUCKET, name)
    versions = {e.version for e in trail}
    records = [
        json.loads(build.client("s3").get_object(Bucket=BUILD_BUCKET, Key=f"releases/{name}/{v}.json")["Body"].read())
        for v in versions
        if v
    ]
    assert all(r["application"] == name for r in records), f"{name}: a record of another application"
    digests = {d for r in records for d in (i["digest"] for i in r["images"].values())}
    for entry in trail:
        assert entry.application == name, f"{name}: {entry.kind} entry of {entry.application}"
        assert set(entry.digests.values()) <= digests, f"{name}: {entry.kind} entry with another release's digests"
    answered = 0
    for stage in (TO_STAGE,):
        ssm = sandbox.account(stage).client("ssm")
        for environment_name in ("author", "live"):
            key = f"/cloudops/{stage}/{name}/{environment_name}/app_endpoint"
            found = ssm.get_parameter(Name=key)["Parameter"]["Value"]
            health = subprocess.run(["curl", "-s", f"{found}/health"], capture_output=True, text=True, check=False)
            assert any(v in health.stdout for v in versions), f"{name} {stage} {environment_name}: {health.stdout}"
            answered += 1
    return f"{name}: {len(trail)} entries, all its own; {answered} endpoints answer with its version"


def remove_stacks(sandbox: Sandbox, name: str) -> None:
    """Delete application ``name``'s stacks in every stage (their services' tasks and databases stop)."""
    for stage in sandbox.settings.promotion_order():
        cloudformation = sandbox.account(stage).client("cloudformation")
        for stack in cloudformation.describe_stacks()["Stacks"]:
            if stack["StackName"].startswith(f"{name}-"):
                cloudformation.delete_stack(StackName=stack["StackName"])
    time.sleep(10)  # the runtimes stop what the stacks ran


def rates(lines: list[str], pattern: re.Pattern[str], since: datetime, until: datetime, fmt: str) -> tuple[int, float]:
    """Peak and mean requests per second in ``lines`` between ``since`` and ``until``."""
    per_second: Counter[datetime] = Counter()
    for line in lines:
        if (found := pattern.search(line)) is not None:
            at = datetime.strptime(found.group(1), fmt).replace(tzinfo=UTC)
            if since <= at <= until:
                per_second[at] += 1
    seconds = max(1.0, (until - since).total_seconds())
    return max(per_second.values(), default=0), sum(per_second.values()) / seconds


def request_rates(sandbox: Sandbox, since: datetime, until: datetime) -> str:
    logs = sandbox.state.logs
    moto = rates(
        (logs / "moto.log").read_text(errors="replace").splitlines(), MOTO_LINE, since, until, "%d/%b/%Y %H:%M:%S"
    )
    registry_lines: list[str] = []
    for log in logs.glob("registry-*.log"):
        registry_lines += log.read_text(errors="replace").splitlines()
    registry = rates(registry_lines, REGISTRY_LINE, since, until, "%Y-%m-%dT%H:%M:%S")
    return (
        f"moto {moto[0]} requests/s at peak, {moto[1]:.1f} on average; registries {registry[0]} at peak, "
        f"{registry[1]:.1f} on average"
    )


def small_image(client: RegistryClient, repository: str, number: int) -> BuiltImage:
    """A one-layer image of its own (a file of 64 KiB), pushed to ``repository``; as a release records it."""
    layer_tar = io.BytesIO()
    with tarfile.open(fileobj=layer_tar, mode="w") as tar:
        data = hashlib.sha256(f"{repository}-{number}".encode()).digest() * 2048
        info = tarfile.TarInfo(f"data-{number}.bin")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    layer = gzip.compress(layer_tar.getvalue(), mtime=0)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer_tar.getvalue()).hexdigest()]},
        }
    ).encode()
    for blob in (layer, config):
        client.upload_blob(repository, "sha256:" + hashlib.sha256(blob).hexdigest(), [blob])
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "size": len(config),
                "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "size": len(layer),
                    "digest": "sha256:" + hashlib.sha256(layer).hexdigest(),
                }
            ],
        }
    ).encode()
    digest = client.put_manifest(repository, "load", manifest, "application/vnd.oci.image.manifest.v1+json")
    return BuiltImage(name=repository, registry=client.host, digest=digest, inputs="", rebuilt=True)


def promote(sandbox: Sandbox, config: Path, version: str) -> float:
    return timed_command(sandbox, config, ["promote", version, "--to", "qa"], f"promote-{version}",
                         f"the promotion of {version}")  # fmt: skip


def many_images(sandbox: Sandbox, config: Path, built: Release, count: int, suffix: str) -> Release:
    """A release of ``count`` images (the built ones, and small ones pushed now), saved as the build does."""
    images = dict(built.images)
    with RegistryClient(sandbox.state.registries["build"].login()) as build:
        for number in range(count - len(images)):
            name = f"load-{suffix}-{number:02d}"
            images[name] = small_image(build, name, number)
    wanted = dict(list(images.items())[:count])
    many = built.model_copy(update={"version": f"{built.version}-{suffix}", "images": wanted})
    save_release(sandbox.account("build"), BUILD_BUCKET, many)
    return many


def main() -> None:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    settings = load_settings(REPO / "cloudops.toml")
    sandbox = Sandbox(SANDBOX, settings, auto_ports=True)
    sandbox.up(PARTS, report=lambda line: None)
    try:
        sandbox.initialise_accounts(report=lambda line: None)
        from sandbox.command_line.sandbox_blocks import save_sandbox_blocks_in_its_server

        save_sandbox_blocks_in_its_server(sandbox)
        configs = [application(f"load{n}") for n in range(APPS + 1)]
        print("warm-up: the first application's release builds the base image and starts every stage")
        release(sandbox, configs[0])
        one = release(sandbox, application("loadanchor"))
        print(f"one release alone: {one:.1f} s")
        for name in ("load0", "loadanchor"):
            remove_stacks(sandbox, name)

        since = datetime.now(UTC).replace(microsecond=0)
        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(APPS) as pool:
            times = list(pool.map(lambda c: release(sandbox, c), configs[1:]))
        together = time.perf_counter() - start
        until = datetime.now(UTC)
        print(f"{APPS} releases at once: {together:.1f} s (each {', '.join(f'{t:.0f}' for t in times)} s)")
        print(f"  ratio against {APPS} x one alone: {together / (APPS * one):.2f}x")
        print(f"  {request_rates(sandbox, since, until)}")
        for config in configs[1:]:
            print(f"  {check_apart(sandbox, config.parent.name)}")

        config = configs[1]
        name = config.parent.name
        built = Release.model_validate_json(
            sandbox.account("build")
            .client("s3")
            .get_object(Bucket=BUILD_BUCKET, Key=f"releases/{name}/latest.json")["Body"]
            .read()
        )
        few = many_images(sandbox, config, built, 5, "few")
        few_seconds = promote(sandbox, config, few.version)
        many = many_images(sandbox, config, built, IMAGES, "many")
        since = datetime.now(UTC).replace(microsecond=0)
        many_seconds = promote(sandbox, config, many.version)
        until = datetime.now(UTC)
        with RegistryClient(sandbox.state.registries["qa"].login()) as qa:
            missing = [n for n, d in release_digests(many).items() if qa.manifest_digest(n, d) != d]
        assert not missing, f"not in QA: {missing}"
        print(f"promotion of 5 images: {few_seconds:.1f} s; of {IMAGES}: {many_seconds:.1f} s, all {IMAGES} in QA")
        print(f"  seconds per image, {IMAGES} against 5: {(many_seconds / IMAGES) / (few_seconds / 5):.2f}x")
        print(f"  {request_rates(sandbox, since, until)}")
    finally:
        sandbox.purge()


if __name__ == "__main__":
    main()
