"""Helpers shared by the package tests: commands; the broker unit read and run as systemd would."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

UNIT = Path("lib/systemd/system/linemon-broker.service")  # under a root


def opt_in(what: str) -> list[Any]:
    """The marks of a module that changes the system: root, and LINEMON_TEST_DEB=1 to opt in."""
    return [
        pytest.mark.root,
        pytest.mark.skipif(os.environ.get("LINEMON_TEST_DEB") != "1",
                           reason=f"{what}: set LINEMON_TEST_DEB=1 (and run as root) to opt in"),
        pytest.mark.skipif(os.geteuid() != 0, reason=f"{what}: needs root"),
    ]


def run(*args: str, check: bool = True, timeout: float = 900,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=timeout, check=False, env=env, cwd="/")
    if check and done.returncode != 0:
        raise AssertionError(f"`{shlex.join(args)}` exited {done.returncode}:\n"
                             f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


def unit_settings(root: Path = Path("/")) -> dict[str, str]:
    """The broker unit's Key=Value settings, as installed under `root`."""
    settings: dict[str, str] = {}
    for line in (root / UNIT).read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            settings[key] = value
    return settings


def broker_argv(settings: dict[str, str]) -> list[str]:
    """ExecStart under User=/Group= in a clean environment, as systemd runs it.

    setpriv execs the broker itself (runuser would stay as its parent and die by the
    forwarded SIGTERM), so the PID is the broker's and its exit status is the broker's own.
    The caller creates RuntimeDirectory= first (runtime_dir_argv).
    """
    return [
        "setpriv", f"--reuid={settings['User']}", f"--regid={settings['Group']}",
        "--init-groups", "--reset-env", "--", *shlex.split(settings["ExecStart"]),
    ]


def runtime_dir_argv(settings: dict[str, str]) -> list[str]:
    """`install -d` of RuntimeDirectory= with the unit's owner and mode."""
    return ["install", "-d", "-o", settings["User"], "-g", settings["Group"],
            "-m", settings["RuntimeDirectoryMode"], f"/run/{settings['RuntimeDirectory']}"]


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, as systemd stops the unit; SIGKILL after 20 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
