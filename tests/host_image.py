"""A tiny image made of the machine's own binaries (dash as /bin/sh, sleep, python3 with the few modules a test
server needs), built FROM scratch in a few seconds: no Docker Hub, no debootstrap.

The tests of the ECS runtime need a shell (for CMD-SHELL health checks) and something that listens and
connects; the example application's images take minutes to build.
"""

from __future__ import annotations

import io
import re
import subprocess
import tarfile
from pathlib import Path

PYTHON = Path("/usr/bin/python3.11")
BINARIES = {"/bin/sh": Path("/usr/bin/dash"), "/bin/sleep": Path("/usr/bin/sleep"), "/usr/bin/python3": PYTHON}
# What the tests' containers run: an HTTP server, a client and a wait; the modules they load are copied.
MODULES_USED = (
    "import http.server, socket, urllib.request, time, json, os, sys, runpy, importlib.machinery, importlib.util,"
    " argparse, contextlib, encodings.idna, signal"
)


def shared_libraries(binary: Path) -> list[Path]:
    """The libraries ``ldd`` says the binary loads (and the loader), at the paths it names."""
    output = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True).stdout
    return [Path(path) for path in re.findall(r"(/\S+) \(0x", output)]


def python_files() -> list[Path]:
    """The standard library files Python loads for ``MODULES_USED`` (site included)."""
    listing = "print('\\n'.join(sorted({getattr(m, '__file__', None) or '' for m in sys.modules.values()})))"
    script = f"{MODULES_USED}\n{listing}"
    output = subprocess.run([str(PYTHON), "-I", "-c", script], capture_output=True, text=True, check=True).stdout
    return [Path(line) for line in output.splitlines() if line.startswith("/")]


def context() -> io.BytesIO:
    """A build context: the files at their own paths, and a Dockerfile FROM scratch that copies them."""
    files: dict[str, Path] = {target: source for target, source in BINARIES.items()}
    for binary in BINARIES.values():
        files.update({str(library): library for library in shared_libraries(binary)})
    files.update({str(path): path for path in python_files()})
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for target, source in sorted(files.items()):
            tar.add(str(source.resolve()), arcname="root" + target)
        dockerfile = b'FROM scratch\nCOPY root/ /\nENV PYTHONDONTWRITEBYTECODE=1\nCMD ["/bin/sh"]\n'
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
    buffer.seek(0)
    return buffer
