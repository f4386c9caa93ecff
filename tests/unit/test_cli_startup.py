"""Every `cloudops` command starts without importing what only the sandbox's moto process and the browser tests
need (moto alone took 1.2 s of each command's start)."""

from __future__ import annotations

import subprocess
import sys


def test_the_command_line_imports_neither_moto_nor_the_browser() -> None:
    probe = "import sys, cli.main; print(sorted(m for m in ('moto', 'playwright') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
