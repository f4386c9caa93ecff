"""One OCI registry per stage account (Debian's ``docker-registry``), each with its own password.

Each stands in for the registry endpoint of that account's ECR (the ECR API itself is moto's). The
user name is ``AWS``, as ECR's is; the password is the account's own, kept in the sandbox state.
"""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

import bcrypt
import httpx

from sandbox.errors import SandboxError
from sandbox.processes import spawn
from sandbox.state import REGISTRY_USER, RegistryState, SandboxState

BINARY = "docker-registry"


def folder(state: SandboxState, stage: str) -> Path:
    return state.root / "registries" / stage


def write_config(
    state: SandboxState, registry: RegistryState, read_only: bool = False, data_of: str | None = None
) -> Path:
    """The registry's config file and htpasswd (bcrypt, the only hash docker-registry accepts).

    ``data_of`` serves another stage's storage (a read-only twin of it, for tests that prove a copy
    never writes to its source).
    """
    base = folder(state, registry.stage)
    data = folder(state, data_of or registry.stage) / "data"
    base.mkdir(parents=True, exist_ok=True)
    htpasswd = base / "htpasswd"
    # Cost 5: the password is a random 24-byte token, so a slow hash buys nothing and would slow every request.
    digest = bcrypt.hashpw(registry.password.get_secret_value().encode(), bcrypt.gensalt(rounds=5))
    htpasswd.write_text(f"{REGISTRY_USER}:{digest.decode()}\n")
    htpasswd.chmod(0o600)
    config = base / "config.yml"
    config.write_text(
        "version: 0.1\n"
        # the access log (one combined-format line a request: who fetched which manifest) is the registry's audit
        "log:\n  level: warn\n  accesslog:\n    disabled: false\n"
        "storage:\n"
        f"  filesystem:\n    rootdirectory: {data}\n"
        "  delete:\n    enabled: true\n"
        "  maintenance:\n    uploadpurging:\n      enabled: false\n"
        f"    readonly:\n      enabled: {str(read_only).lower()}\n"
        "http:\n"
        f"  addr: {registry.address}\n"
        f"  secret: {secrets.token_hex(16)}\n"
        "auth:\n"
        f"  htpasswd:\n    realm: cloudops-{registry.stage}\n    path: {htpasswd}\n"
    )
    config.chmod(0o600)
    return config


def start(state: SandboxState, registry: RegistryState, read_only: bool = False, data_of: str | None = None) -> int:
    binary = shutil.which(BINARY) or shutil.which("registry")
    if binary is None:
        raise SandboxError("docker-registry is not installed; run scripts/setup.sh (apt-get install docker-registry)")
    config = write_config(state, registry, read_only, data_of)
    return spawn([binary, "serve", str(config)], state.logs / f"registry-{registry.stage}.log")


def answers(registry: RegistryState) -> bool:
    """True when the registry answers and asks for its password (401 without one)."""
    try:
        return httpx.get(f"http://{registry.address}/v2/", timeout=5).status_code == 401
    except httpx.HTTPError:
        return False
