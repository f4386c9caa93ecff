"""The flow-runner image: this project and its locked Python environment (uv.lock, without the dev, sandbox and
ECS worker groups) on the pipeline's base image. The `cloudops-ecs` work pool's ECS tasks run flow runs in it.

The environment is installed on the build machine with uv into the build context (``site-packages/``, Debian's
site folder for local installs once copied), from uv's cache where it can: the image needs no network for
Python packages, only Debian's for ``python3`` and ``git``. The project itself goes in as the wheel it builds,
so its entry points (the sandbox's block collection) are there; its flows are run from that folder, which is
the deployments' working directory on the pool (prefect.yaml).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from cloudops.errors import ConfigurationError, ImageBuildError

REPOSITORY = "flow-runner"
PYTHON_VERSION = (3, 11)  # Debian bookworm's python3, the base image's
SITE_FOLDER = "/usr/local/lib/python3.11/dist-packages"  # where the flows run from, in the image
# Everything of the project the wheel holds (pyproject's wheel packages) and what decides its environment
PROJECT_PATHS = ("cloudops", "flows", "tasks", "blocks", "deployments", "cli", "pyproject.toml", "uv.lock")
DOCKERFILE = f"""ARG BASE_IMAGE
FROM ${{BASE_IMAGE}}
RUN apt-get update -q \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3 git ca-certificates \\
 && rm -rf /var/lib/apt/lists/*
COPY site-packages/ {SITE_FOLDER}/
ENV PYTHONUNBUFFERED=1 LANG=C.UTF-8
WORKDIR {SITE_FOLDER}
CMD ["python3", "-m", "prefect", "flow-run", "execute"]
"""
Log = Callable[[str], None]


def project_dir() -> Path:
    """The project this code is part of (the folder of its pyproject.toml)."""
    return Path(__file__).resolve().parent.parent


def check_plugins(project: Path, plugins: Sequence[str]) -> None:
    """Refuse a plugin that is no folder of ``project`` with a pyproject.toml, in one line naming it."""
    for plugin in plugins:
        if (
            Path(plugin).is_absolute()
            or ".." in Path(plugin).parts
            or not (project / plugin / "pyproject.toml").is_file()
        ):
            raise ConfigurationError(
                f"plugin {plugin!r} is no folder of {project} with a pyproject.toml; name a uv workspace member's "
                "folder, relative to the project (e.g. sandbox)"
            )


def tracked_files(project: Path, plugins: Sequence[str] = ()) -> list[str]:
    """The project's files in git that go into the image (and those of ``plugins``), in a stable order."""
    listed = subprocess.run(
        ["git", "-C", str(project), "ls-files", "-z", "--", *PROJECT_PATHS, *plugins],
        capture_output=True,
        check=False,
    )
    if listed.returncode != 0:
        raise ImageBuildError(f"the flow-runner image is built from a git checkout; {project}: {listed.stderr!r}")
    return sorted(name for name in listed.stdout.decode().split("\0") if name and (project / name).is_file())


def image_inputs(project: Path, base_digest: str, plugins: Sequence[str] = ()) -> str:
    """What decides the image: its Dockerfile, the base image and the content of each project file (uv.lock too),
    and of each plugin's folder."""
    digest = hashlib.sha256(DOCKERFILE.encode())
    digest.update(base_digest.encode())
    for name in tracked_files(project, plugins):
        digest.update(b"\0" + name.encode() + b"\0" + (project / name).read_bytes())
    return digest.hexdigest()


def uv_command() -> str:
    found = shutil.which("uv")
    if found is None:
        raise ImageBuildError(
            "uv is not on PATH; the flow-runner image's environment is installed with it (scripts/setup.sh)"
        )
    return found


def make_context(project: Path, context: Path, log: Log, plugins: Sequence[str] = ()) -> Path:
    """The build context in ``context``: the Dockerfile and the project's locked environment; ``context``.

    ``plugins``: folders of the project (uv workspace members) whose packages the flows load at run time through
    entry points, such as a block type of their own; each is installed beside the project without its
    dependencies, which the flows do not import."""
    if sys.version_info[:2] != PYTHON_VERSION:
        raise ImageBuildError(
            f"the flow-runner image runs Debian bookworm's Python 3.11; build it from a Python 3.11 environment, "
            f"not {sys.version_info[0]}.{sys.version_info[1]}"
        )
    uv = uv_command()
    site = context / "site-packages"
    exported = _run(
        [uv, "export", "--frozen", "--no-dev", "--no-group", "sandbox", "--no-group", "ecs-worker"]
        + ["--no-emit-project", "--no-emit-workspace", "--no-hashes", "--quiet"],
        project,
    )
    (context / "requirements.txt").write_text(exported)
    install = [uv, "pip", "install", "--quiet", "--compile-bytecode", "--target", str(site), "--python", sys.executable]
    log(f"installing the locked environment ({exported.count('==')} packages) into the build context")
    _run([*install, "-r", str(context / "requirements.txt")], project)
    log("installing the project's wheel into the build context")
    _run([*install, "--no-deps", str(project)], project)
    for plugin in plugins:
        log(f"installing the plugin {plugin} (its package only) into the build context")
        _run([*install, "--no-deps", str(project / plugin)], project)
    (context / "Dockerfile").write_text(DOCKERFILE)
    (context / ".dockerignore").write_text("requirements.txt\n")
    return context


def _run(command: list[str], cwd: Path) -> str:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ImageBuildError(f"{' '.join(command[:3])} failed: {(done.stderr or done.stdout).strip()[-500:]}")
    return done.stdout
