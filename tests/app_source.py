"""The example application as the tests build it: a git repository of its own and a cloudops.toml pointing at it."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cloudops.settings import Settings

REPO = Path(__file__).resolve().parent.parent
CONFIG_FILE = REPO / "cloudops.toml"
EXAMPLE = REPO / "examples" / "commerce"


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
        "GIT_AUTHOR_DATE": "2026-01-02T03:04:05Z",
        "GIT_COMMITTER_DATE": "2026-01-02T03:04:05Z",
    }
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout.strip()


def make_app_repo(repo: Path) -> Path:
    """A git repository holding a copy of the example application at its root, one commit on main."""
    shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns("dist", "__pycache__"))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Commerce 1.0")
    return repo


def write_app_config(folder: Path, repo: Path) -> Path:
    """cloudops.toml with the application pointed at ``repo``."""
    text = CONFIG_FILE.read_text()
    text = text.replace('repository = "."', f'repository = "{repo}"').replace(
        'subdirectory = "examples/commerce"', 'subdirectory = ""'
    )
    path = folder / "cloudops.toml"
    path.write_text(text)
    return path


@dataclass(frozen=True)
class ReleaseSource:
    """The session's application repository and configuration, shared by the slow build tests."""

    repo: Path
    config: Path
    settings: Settings
