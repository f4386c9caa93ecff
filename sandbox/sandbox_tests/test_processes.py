"""The sandbox's last sweep: it kills what names the sandbox's folder, but never the command running it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_the_sweep_kills_a_straggler_and_spares_the_processes_it_runs_under(tmp_path: Path) -> None:
    folder = tmp_path / "sandbox"
    straggler = subprocess.Popen(["sh", "-c", "sleep 120", str(folder)])
    code = (
        "import sys; from pathlib import Path; from sandbox.processes import sweep; print(sweep([Path(sys.argv[1])]))"
    )
    # a shell naming the folder runs the sweep, as `uv run cloudops sandbox down --dir <folder>` does
    result = subprocess.run(
        ["sh", "-c", f'"{sys.executable}" -c "$1" "$2" && echo "the shell of $2 survived"', "sh", code, str(folder)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert f"the shell of {folder} survived" in result.stdout
    assert str(straggler.pid) in result.stdout.splitlines()[0]
    assert straggler.wait(timeout=10) == -9
