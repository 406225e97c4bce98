"""Fixtures for the integration suite: the real Zabbix lab (scripts/zabbix-lab) and its API.

The lab is found with `scripts/zabbix-lab env` (which honours LINEMON_ZABBIX_LAB_DIR). When it
is not up, every test that uses it is skipped with the reason, so `pytest -ra` shows it. At
the start of a session the lab's working database is reset to the pristine one (about 2 s);
LINEMON_ZABBIX_LAB_RESET=0 keeps the current database (e.g. to look at it after a run).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from zabbix_utils import ZabbixAPI

LAB_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "zabbix-lab"
NOT_UP = "Zabbix lab not up: run scripts/zabbix-lab up"


def _lab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LAB_SCRIPT), *args], capture_output=True, text=True, timeout=180, check=False
    )


def _lab_ok(*args: str) -> str:
    done = _lab(*args)
    if done.returncode != 0:
        pytest.fail(f"scripts/zabbix-lab {' '.join(args)} failed: {done.stderr or done.stdout}")
    return done.stdout


@dataclass(frozen=True)
class ZabbixLab:
    """Where the lab's services listen, and the few actions tests need from it."""

    url: str
    user: str
    password: str
    server: str
    trapper_port: int
    agent_port: int
    agent_hostname: str
    agent_include_dir: Path
    lab_dir: Path

    def reload_config_cache(self) -> None:
        """Make the server see new hosts and items now (it also reloads every second)."""
        _lab_ok("reload")

    def restart_agent(self) -> None:
        """Restart the agent so it reads the UserParameter files in agent_include_dir."""
        _lab_ok("restart-agent")


@pytest.fixture(scope="session")
def zabbix_lab() -> ZabbixLab:
    """The running lab with a fresh working database; skips when the lab is not up."""
    if os.geteuid() != 0:
        pytest.skip("Zabbix lab tests run as root (they reset the lab and restart its agent)")
    if _lab("status", "--quiet").returncode != 0:
        pytest.skip(NOT_UP)
    if os.environ.get("LINEMON_ZABBIX_LAB_RESET", "1") != "0":
        _lab_ok("reset")
    env = json.loads(_lab_ok("env", "--json"))
    return ZabbixLab(
        url=env["LINEMON_ZABBIX_URL"],
        user=env["LINEMON_ZABBIX_USER"],
        password=env["LINEMON_ZABBIX_PASSWORD"],
        server=env["LINEMON_ZABBIX_SERVER"],
        trapper_port=int(env["LINEMON_ZABBIX_TRAPPER_PORT"]),
        agent_port=int(env["LINEMON_ZABBIX_AGENT_PORT"]),
        agent_hostname=env["LINEMON_ZABBIX_AGENT_HOSTNAME"],
        agent_include_dir=Path(env["LINEMON_ZABBIX_AGENT_INCLUDE_DIR"]),
        lab_dir=Path(env["LINEMON_ZABBIX_LAB_DIR"]),
    )


@pytest.fixture(scope="session")
def zabbix_api(zabbix_lab: ZabbixLab) -> Iterator[ZabbixAPI]:
    """A zabbix_utils API client logged in as the lab's Admin for the whole session."""
    api = ZabbixAPI(url=zabbix_lab.url, user=zabbix_lab.user, password=zabbix_lab.password)
    yield api
    api.logout()
