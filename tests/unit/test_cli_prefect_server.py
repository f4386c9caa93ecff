"""A command that needs Prefect, run where no Prefect server is set: a clear error, no temporary server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.app_source import CONFIG_FILE

CLOUDOPS = str(Path(sys.executable).parent / "cloudops")


def test_no_prefect_server_set_is_a_clear_error_not_a_temporary_server(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {
        "PREFECT_HOME": str(tmp_path / "prefect-home"),  # no profile that sets a server either
        "CLOUDOPS_SANDBOX_DIR": str(tmp_path / "no-sandbox"),
        "CLOUDOPS_CONFIG_FILE": str(CONFIG_FILE),
    }
    shown = subprocess.run([CLOUDOPS, "status"], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert shown.returncode == 1, shown.stdout + shown.stderr
    assert shown.stderr.startswith("error: no Prefect server is set (PREFECT_API_URL)")
    assert "uv run cloudops sandbox up" in shown.stderr and "Traceback" not in shown.stderr
    assert "temporary server" not in shown.stdout + shown.stderr
    assert not list((tmp_path / "prefect-home").glob("*.db"))  # no temporary server made its database there
