"""Starting, waiting for and stopping the sandbox's server processes.

Each server runs in its own session (process group) so that stopping it reaches its children too; a
last sweep kills anything still running that names the sandbox's folders on its command line, so
`down` leaves no process behind even when a server re-parented a helper (dockerd's containerd).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from sandbox.errors import PortInUseError, SandboxError


def spawn(
    command: Sequence[str],
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    user: str | None = None,
) -> int:
    """Start ``command`` detached in its own session, output appended to ``log``; its pid. With ``user``, it runs
    as that user and group, with no other group (a server that refuses root: PostgreSQL)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        process = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
            user=user,
            group=user,
            extra_groups=[] if user else None,
        )
    return process.pid


def _stat_fields(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the command's name: state, ppid, pgrp, session, ..."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def alive(pid: int | None) -> bool:
    """Whether ``pid`` is a running (not zombie) process."""
    if not pid:
        return False
    try:
        state = _stat_fields(pid)[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def reap(pid: int) -> None:
    """Collect ``pid``'s exit status if it is our child, so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def stop(pid: int | None, timeout: float = 20.0) -> None:
    """SIGTERM the process group of ``pid``, then SIGKILL it if it has not gone after ``timeout``."""
    if not pid or not alive(pid):
        return
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            reap(pid)
            if not alive(pid):
                return
            time.sleep(0.1)
    raise SandboxError(f"process {pid} survived SIGKILL; inspect it with `ps -p {pid}`")


def flow_process_groups(worker: int) -> list[int]:
    """The process groups of ``worker``'s children that lead groups of their own: a Prefect process worker starts
    each flow run in a session of its own (so that a signal to the worker's group does not reach the runs), and
    such a run outlives a worker that was killed before it could stop it."""
    groups = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = _stat_fields(int(entry.name))
        except (OSError, IndexError):
            continue
        if fields[1] == str(worker) and fields[2] == entry.name:
            groups.append(int(entry.name))
    return groups


def kill_groups(groups: Sequence[int]) -> list[int]:
    """SIGKILL each of ``groups`` still alive (what a stopped worker left of its runs); the groups it killed."""
    killed = []
    for group in groups:
        try:
            os.killpg(group, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            continue
        killed.append(group)
    return killed


def stop_worker(pid: int | None, timeout: float = 20.0) -> list[int]:
    """Stop a Prefect worker as :func:`stop` does, then whatever is left of the flow runs it had started (it stops
    them itself on SIGTERM, but not when it has to be killed); the process groups of the runs it had running."""
    if not pid or not alive(pid):
        return []
    flows = flow_process_groups(pid)
    stop(pid, timeout)
    kill_groups(flows)
    return flows


def ancestors(pid: int) -> set[int]:
    """``pid`` and the processes it descends from."""
    found = {pid}
    while pid > 1:
        try:
            pid = int(_stat_fields(pid)[1])
        except (OSError, ValueError, IndexError):
            break
        found.add(pid)
    return found


def processes_naming(folders: Sequence[Path]) -> list[int]:
    """Pids of running processes whose command line names one of ``folders``, but for this process and the
    ones it runs under (`cloudops sandbox down --dir X` runs under a `uv run` that names X too)."""
    needles = [str(folder).encode() for folder in folders]
    ours = ancestors(os.getpid())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in ours:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if any(needle in cmdline for needle in needles) and alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def sweep(folders: Sequence[Path]) -> list[int]:
    """Kill every process left that names one of ``folders``; the pids it killed."""
    victims = processes_naming(folders)
    for pid in victims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(alive(pid) for pid in victims):
        for pid in victims:
            reap(pid)
        time.sleep(0.05)
    return victims


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def require_free_port(port: int, part: str) -> None:
    if not port_is_free(port):
        raise PortInUseError(
            f"port {port} for the sandbox's {part} is in use by another process; stop that process "
            f"(`ss -ltnp 'sport = :{port}'` names it) or start the sandbox with `--auto-ports`"
        )


def wait_until(answers: Callable[[], bool], *, part: str, pid: int, log: Path, timeout: float) -> None:
    """Poll ``answers`` until it is true; fail at once, with the log's tail, if the process dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answers():
            return
        reap(pid)
        if not alive(pid):
            raise SandboxError(f"the sandbox's {part} exited while starting; its log {log} ends:\n{tail(log)}")
        time.sleep(0.1)
    raise SandboxError(f"the sandbox's {part} did not answer within {timeout:.0f} s; see {log}:\n{tail(log)}")


def tail(log: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"
