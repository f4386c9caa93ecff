"""checkov and parliament, run from their own environment (tools/aws-static-checks) with no way to call out.

Both are run in a network namespace of their own when this machine allows one (`unshare --net`: root, as CI
runs), so neither can reach anything, whatever it tries; and with checkov's update check and its platform
downloads turned off in any case (`--skip-download`, CKV_SKIP_PACKAGE_UPDATE_CHECK)."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

TOOLS = Path(__file__).resolve().parents[3] / "tools" / "aws-static-checks" / ".venv" / "bin"
OFFLINE_ENV = {"CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "BC_SKIP_MAPPING": "TRUE", "PYTHONWARNINGS": "ignore"}


@functools.cache
def no_network_prefix() -> tuple[str, ...]:
    """``unshare --net`` when this machine lets the tests make a network namespace, else nothing."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return ()
    tried = subprocess.run([unshare, "--net", "true"], capture_output=True, check=False)
    return (unshare, "--net") if tried.returncode == 0 else ()


def run_checker(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``tool`` (checkov or parliament) with ``args``, offline; its standard input is empty (parliament reads a
    policy from it when it is not a terminal)."""
    path = TOOLS / tool
    if not path.exists():
        raise AssertionError(f"{path} is missing: run `bash scripts/setup.sh`, which installs it")
    return subprocess.run(
        [*no_network_prefix(), str(path), *args],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **OFFLINE_ENV},
        timeout=300,
    )
