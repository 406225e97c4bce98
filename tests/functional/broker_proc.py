"""Runs the real broker (``linemon broker``) as a subprocess on a temporary socket, for tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent


def emulator_routers(
    emulator: Any, names: Iterable[str], platform: str = "cisco_iosxe", **extra: Any
) -> list[dict[str, Any]]:
    """``[[routers]]`` entries for the emulator's routers ``names`` (extra keys added to each)."""
    return [
        {"name": n, "host": emulator.address(n)[0], "port": emulator.address(n)[1],
         "platform": platform, **extra}
        for n in names
    ]


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))


def render_toml(doc: dict[str, Any]) -> str:
    """A small TOML writer for the shapes the broker's config uses."""
    out: list[str] = []
    for section in ("broker", "zabbix", "zabbix_api"):
        if section in doc:
            out.append(f"[{section}]")
            out += [f"{k} = {toml_value(v)}" for k, v in doc[section].items()]
    for name, profile in doc.get("credentials", {}).items():
        out.append(f"[credentials.{name}]")
        out += [f"{k} = {toml_value(v)}" for k, v in profile.items()]
    for array in ("routers", "lines"):
        for table in doc.get(array, []):
            out.append(f"[[{array}]]")
            out += [f"{k} = {toml_value(v)}" for k, v in table.items()]
    return "\n".join(out) + "\n"


class BrokerProcess:
    """``linemon broker --config FILE`` with helpers for the client and signals."""

    def __init__(self, workdir: Path, doc: dict[str, Any]) -> None:
        self.workdir = workdir
        self.config = workdir / "linemon.toml"
        self.socket = workdir / "broker.sock"
        self.log = workdir / "broker.log"
        doc.setdefault("broker", {})
        doc["broker"].setdefault("socket", str(self.socket))
        doc["broker"].setdefault("state_dir", str(workdir / "state"))
        self.doc = doc
        self.proc: subprocess.Popen[bytes] | None = None

    def write_config(self) -> None:
        self.config.write_text(render_toml(self.doc))

    def start(self, wait: float = 20.0) -> BrokerProcess:
        self.write_config()
        self.socket.unlink(missing_ok=True)  # a killed broker leaves its socket behind
        handle = self.log.open("ab")
        self.proc = subprocess.Popen(
            [str(BIN / "linemon"), "broker", "--config", str(self.config)],
            stdout=handle, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.socket.exists():
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"broker exited {self.proc.returncode}:\n{self.log_text()}")
            time.sleep(0.05)
        raise RuntimeError(f"broker socket did not appear:\n{self.log_text()}")

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def client(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "LINEMON_SOCKET": str(self.socket)}
        return subprocess.run([str(BIN / "linemon"), *args], capture_output=True, text=True,
                              env=env, timeout=timeout)

    def client_async(self, *args: str) -> subprocess.Popen[str]:
        """``linemon ARGS`` started in the background (read it with ``communicate``)."""
        env = {**os.environ, "LINEMON_SOCKET": str(self.socket)}
        return subprocess.Popen([str(BIN / "linemon"), *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env)

    def client_json(self, *args: str) -> Any:
        done = self.client(*args)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def signal(self, signum: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)

    def stop(self, timeout: float = 30.0) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def __enter__(self) -> BrokerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
