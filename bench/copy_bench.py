"""Promote-style image copy between two local registries: our OCI client against `skopeo copy`.

Run by hand: uv run python bench/copy_bench.py   (starts two docker-registry processes of its own)
An image of 3 layers of 50 MB of random data, cold and warm; then a 1 GB layer for peak memory.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from pydantic import SecretStr

from cloudops.image_copy import copy_image
from cloudops.registry import RegistryClient, RegistryLogin
from cloudops.settings import load_settings
from sandbox.sandbox import Sandbox

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work" / "copy"
MB = 1024 * 1024


def login(address: str, password: SecretStr) -> RegistryLogin:
    return RegistryLogin(url=f"http://{address}", username="AWS", password=password)


def random_chunks(size: int, seed: bytes) -> tuple[str, Iterator[bytes]]:
    """A blob of ``size`` pseudo-random bytes, produced twice: once to hash, once to upload."""

    def produce() -> Iterator[bytes]:
        block = hashlib.sha512(seed).digest() * (MB // 64)
        for index in range(size // MB):
            yield hashlib.sha256(seed + index.to_bytes(8, "big")).digest() + block[32:]

    digest = hashlib.sha256()
    for chunk in produce():
        digest.update(chunk)
    return "sha256:" + digest.hexdigest(), produce()


def push(registry: RegistryClient, repository: str, layer_sizes: list[int], seed: str) -> str:
    layers = []
    for index, size in enumerate(layer_sizes):
        digest, chunks = random_chunks(size, f"{seed}-{index}".encode() + os.urandom(8))
        registry.upload_blob(repository, digest, chunks)
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest, "size": size})
    config = json.dumps({"architecture": "amd64", "os": "linux", "seed": seed}).encode()
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    registry.upload_blob(repository, config_digest, [config])
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": len(config),
            },
            "layers": layers,
        }
    ).encode()
    digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    registry.put_manifest(repository, digest, manifest, "application/vnd.oci.image.manifest.v1+json")
    return digest


def timed(action: object) -> float:
    start = time.perf_counter()
    action()  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> None:
    shutil.rmtree(WORK, ignore_errors=True)
    box = Sandbox(WORK / "sandbox", load_settings(HERE.parent / "cloudops.toml"), auto_ports=True)
    box.up(["registries"], report=lambda line: None)
    try:
        src, dst = box.state.registries["build"], box.state.registries["qa"]
        source = RegistryClient(login(src.address, src.password))
        destination = RegistryClient(login(dst.address, dst.password))
        digest = push(source, "bench", [50 * MB] * 3, "three")
        skopeo = [
            "skopeo",
            "copy",
            "--quiet",
            "--preserve-digests",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            f"--src-creds=AWS:{src.password.get_secret_value()}",
            f"--dest-creds=AWS:{dst.password.get_secret_value()}",
        ]
        rows = []
        env = {
            **os.environ,
            "SRC_PASSWORD": src.password.get_secret_value(),
            "DST_PASSWORD": dst.password.get_secret_value(),
        }
        for attempt in range(3):
            ours, theirs = f"ours{attempt}", f"skopeo{attempt}"
            # skopeo remembers where it saw blobs (its blob-info cache, /var/lib/containers/cache for root) and
            # would mount them from the earlier runs' repositories: forget them before each cold run.
            shutil.rmtree("/var/lib/containers/cache", ignore_errors=True)
            skopeo_env = {**os.environ, "HOME": str(WORK / f"home{attempt}")}
            command = [*skopeo, f"docker://{src.address}/bench@{digest}", f"docker://{dst.address}/{theirs}:v"]
            whole = [sys.executable, str(HERE / "copy_once.py"), src.address, dst.address, f"cmd{attempt}", digest]
            cold_ours = timed(lambda r=ours: copy_image(source, "bench", destination, r, digest))
            warm_ours = timed(lambda r=ours: copy_image(source, "bench", destination, r, digest))
            cold_skopeo = timed(lambda c=command, e=skopeo_env: subprocess.run(c, check=True, env=e))
            warm_skopeo = timed(lambda c=command, e=skopeo_env: subprocess.run(c, check=True, env=e))
            cold_cmd = timed(lambda c=whole: subprocess.run(c, check=True, env=env))
            warm_cmd = timed(lambda c=whole: subprocess.run(c, check=True, env=env))
            rows.append((cold_ours, warm_ours, cold_cmd, warm_cmd, cold_skopeo, warm_skopeo))
            print(
                f"run {attempt + 1}: ours cold {cold_ours:.2f} warm {warm_ours:.3f} | as a command cold "
                f"{cold_cmd:.2f} warm {warm_cmd:.2f} | skopeo cold {cold_skopeo:.2f} warm {warm_skopeo:.2f}"
            )
        best = [min(column) for column in zip(*rows, strict=True)]
        print(
            f"best: ours cold {best[0]:.2f} s ({best[0] / best[4]:.2f}x skopeo {best[4]:.2f} s), warm {best[1]:.3f} s "
            f"(skopeo {best[5]:.2f} s); as a command cold {best[2]:.2f} s, warm {best[3]:.2f} s"
        )

        big = push(source, "big", [1024 * MB], "big")
        env = {
            **os.environ,
            "SRC_PASSWORD": src.password.get_secret_value(),
            "DST_PASSWORD": dst.password.get_secret_value(),
        }
        result = subprocess.run(
            [
                "/usr/bin/time",
                "-f",
                "%M",
                sys.executable,
                str(HERE / "copy_once.py"),
                src.address,
                dst.address,
                "big",
                big,
                "big",
            ],
            check=True,
            env=env,
            capture_output=True,
            text=True,
        )
        peak = int(result.stderr.strip().splitlines()[-1]) / 1024
        print(f"1 GB layer: peak resident memory of the copying process {peak:.0f} MiB")
    finally:
        box.purge()
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
