"""Processes and ports: run a command, find a daemon by its PID file, wait, stop by PID."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from settings import LISTEN, LabError


def run(
    argv: Sequence[str | Path],
    *,
    user: str | None = None,
    stdin: bytes | None = None,
    timeout: float = 120,
) -> str:
    """Run a command (as `user` when given) and return its stdout; fail with its stderr."""
    cmd = [str(arg) for arg in argv]
    if user is not None:
        cmd = ["runuser", "-u", user, "--", *cmd]
    try:
        done = subprocess.run(
            cmd, input=stdin, capture_output=True, timeout=timeout, check=False, cwd="/"
        )
    except subprocess.TimeoutExpired:
        raise LabError(f"`{' '.join(cmd)}` took more than {timeout:.0f} s") from None
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace").strip() or done.stdout.decode(errors="replace")
        raise LabError(f"`{' '.join(cmd)}` failed ({done.returncode}): {err[-2000:]}")
    return done.stdout.decode(errors="replace")


def pid_of(pid_file: Path, name: str) -> int | None:
    """The PID in `pid_file` if that process is alive and its command line mentions `name`."""
    try:
        pid = int(pid_file.read_text().split()[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError, IndexError):
        return None
    return pid if name.encode() in cmdline else None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (our own child that has not been reaped) is as good as gone.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def port_open(port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on the loopback port."""
    try:
        with socket.create_connection((LISTEN, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_free(port: int, what: str, env_var: str) -> None:
    """Fail clearly when a port the lab needs is taken by something else."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LISTEN, port))
        except OSError as exc:
            raise LabError(
                f"{what} needs {LISTEN}:{port}, which is taken ({exc.strerror}). "
                f"Stop whatever holds it (`ss -ltnp 'sport = :{port}'`), or choose another "
                f"port with {env_var}=... before the lab's first `up` (or after `purge`)."
            ) from None


def wait_until(
    ready: Callable[[], bool],
    what: str,
    timeout: float,
    *,
    still_hopeful: Callable[[], bool] = lambda: True,
    log: Path | None = None,
) -> None:
    """Poll `ready` until it holds; fail early if `still_hopeful` stops holding."""
    deadline = time.monotonic() + timeout
    while not ready():
        if not still_hopeful() or time.monotonic() > deadline:
            reason = "gave up" if still_hopeful() else "its process died"
            raise LabError(f"{what} did not come up ({reason}).{log_tail(log)}")
        time.sleep(0.1)


def describe_exit(returncode: int) -> str:
    """How a child ended, from Popen's returncode: "exited with code 1", "was killed by SIGKILL"."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"was killed by {name}"
    return f"exited with code {returncode}"


def log_tail(log: Path | None, lines: int = 15) -> str:
    """The end of a log file, indented, for an error message (empty without a log)."""
    if log is None:
        return ""
    try:
        tail = log.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return f" (no log at {log})"
    return f" Last lines of {log}:\n    " + "\n    ".join(tail)


def stop(pid: int, what: str, timeout: float = 60, *, group: bool = False) -> None:
    """SIGTERM a process we started (its whole process group if `group`) and wait for it."""
    try:
        if group:
            os.killpg(pid, signal.SIGTERM)
        else:
            os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            raise LabError(f"{what} (PID {pid}) did not stop within {timeout:.0f} s")
        time.sleep(0.05)
