"""Drive an emulator process from tests: start it, call its control channel, stop it.

::

    with Emulator({"time_scale": 0.01, "routers": {...}}) as emu:
        emu.set_target("pe1", "198.51.100.7", loss=0.2)
        host, port = emu.address("pe1")
        ... connect with emu.known_hosts ...
        assert emu.stats("pe1")["pings"] == 1

The process is a child (its own CPU and event loop); it is stopped by its PID: a
``shutdown`` request, then SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

REPO = Path(__file__).resolve().parents[3]


class EmulatorError(RuntimeError):
    """The emulator did not start, or refused a control request."""


@dataclass(frozen=True)
class RouterInfo:
    name: str
    host: str
    port: int
    platform: str
    username: str
    password: str
    hostname: str


def control_call(
    path: str | Path, request: Mapping[str, Any], timeout: float = 10.0
) -> dict[str, Any]:
    """One request on the control socket at ``path``; EmulatorError on a refusal."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        sock.sendall(json.dumps(dict(request)).encode() + b"\n")
        answer = b""
        while not answer.endswith(b"\n"):
            chunk = sock.recv(1 << 16)
            if not chunk:
                raise EmulatorError(f"control socket closed during {request.get('op')!r}")
            answer += chunk
    reply: dict[str, Any] = json.loads(answer)
    if not reply.pop("ok", False):
        raise EmulatorError(f"{request.get('op')}: {reply.get('error')}")
    return reply


class Emulator:
    """An emulator subprocess for one configuration (a dict, or a JSON file's path)."""

    def __init__(
        self,
        config: Mapping[str, Any] | str | Path,
        *,
        workdir: Path | None = None,
        startup_timeout: float = 60.0,
        python: str = sys.executable,
    ) -> None:
        self.config = config
        self.startup_timeout = startup_timeout
        self.python = python
        self._own_workdir = workdir is None
        # A short path: Unix socket paths are limited to 107 bytes.
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="linemon-emu-"))
        self.process: subprocess.Popen[bytes] | None = None
        self.log = self.workdir / "emulator.stderr"
        self.ready: dict[str, Any] = {}

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> Emulator:
        if isinstance(self.config, Mapping):
            config_path = self.workdir / "emulator.json"
            config_path.write_text(json.dumps(self.config))
        else:
            config_path = Path(self.config)
        command = [self.python, "-m", "tests.beds.emulator", "--config", str(config_path)]
        command += ["--workdir", str(self.workdir)]
        with self.log.open("wb") as stderr:  # a file: a full pipe would block the process
            self.process = subprocess.Popen(
                command, cwd=REPO, stdout=subprocess.PIPE, stderr=stderr
            )
        line = self._read_line(self.startup_timeout)
        try:
            self.ready = json.loads(line)
        except ValueError:
            self.ready = {}
        if not self.ready.get("ready"):
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(2.0)  # let it finish saying why
            why = self._stderr() or f"no ready line within {self.startup_timeout:g} s"
            self.stop()
            raise EmulatorError(f"emulator did not start: {why}")
        return self

    def _read_line(self, timeout: float) -> bytes:
        assert self.process is not None and self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        return self.process.stdout.readline() if ready else b""

    def _stderr(self) -> str:
        try:
            return self.log.read_text(errors="replace").strip()[-2000:]
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        """Ask it to shut down; SIGTERM, then SIGKILL, by PID, if it does not."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(OSError, EmulatorError, ValueError, KeyError):
                control_call(self.control_path, {"op": "shutdown"}, timeout=2.0)
            for sig in (None, signal.SIGTERM, signal.SIGKILL):
                if sig is not None:
                    os.kill(process.pid, sig)
                try:
                    process.wait(timeout)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if process is not None and process.stdout is not None:
            process.stdout.close()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- what it serves -------------------------------------------------------------------

    @property
    def pid(self) -> int:
        return int(self.ready["pid"])

    @property
    def control_path(self) -> Path:
        return Path(self.ready["control"])

    @property
    def known_hosts(self) -> Path:
        """An OpenSSH known_hosts file with every router's host key."""
        return Path(self.ready["known_hosts"])

    @property
    def host_key_public(self) -> str:
        """The host key's public line (``ssh-rsa AAAA...``), the same for every router."""
        return str(self.ready["host_key_public"])

    def routers(self) -> dict[str, RouterInfo]:
        listed = self.call("routers")["routers"]
        return {name: RouterInfo(name=name, **info) for name, info in listed.items()}

    def address(self, router: str, telnet: bool = False) -> tuple[str, int]:
        """The router's SSH address, or its telnet one (``"telnet": true`` routers)."""
        info = self.ready["routers"][router]
        return str(info["host"]), int(info["telnet_port" if telnet else "port"])

    # -- control --------------------------------------------------------------------------

    def call(self, op: str, **fields: Any) -> dict[str, Any]:
        return control_call(self.control_path, {"op": op, **fields})

    def stats(self, router: str | None = None) -> dict[str, Any]:
        """One router's counters, or every router's by name."""
        routers = self.call("stats", router=router or "*")["routers"]
        return dict(routers[router]) if router else dict(routers)

    def set_target(self, router: str, target: str | None = None, **behaviour: Any) -> None:
        """loss (0..1), rtt_ms, jitter_ms, unreachable; no target: the router's default."""
        self.call("set_target", router=router, target=target, **behaviour)

    def set_default_target(self, **behaviour: Any) -> None:
        self.call("set_default_target", **behaviour)

    def set_fault(self, router: str, **faults: Any) -> None:
        """drop_mid_command, silent, refuse_auth, slow_login_s, down, max_sessions."""
        self.call("set_fault", router=router, **faults)

    def received_bytes(self, router: str) -> bytes:
        return base64.b64decode(self.call("received_bytes", router=router)["data"])

    def commands(self, router: str) -> list[str]:
        return list(self.call("commands", router=router)["commands"])

    def pings(self, router: str) -> list[dict[str, Any]]:
        return list(self.call("pings", router=router)["pings"])

    def reset(self, router: str = "*") -> None:
        self.call("reset", router=router)

    def close_sessions(self, router: str = "*", abort: bool = False) -> int:
        """Close the router's connections (SSH disconnect; ``abort``: cut TCP); how many."""
        return int(self.call("close_sessions", router=router, abort=abort)["closed"])

    def set_time_scale(self, value: float) -> None:
        self.call("set_time_scale", value=value)

    def wait_for(self, router: str, counter: str, value: int, timeout: float = 5.0) -> int:
        """Poll ``stats`` until ``counter`` equals ``value`` (or ``timeout``); its last value."""
        deadline = time.monotonic() + timeout
        while True:
            current = int(self.stats(router)[counter])
            if current == value or time.monotonic() > deadline:
                return current
            time.sleep(0.02)
