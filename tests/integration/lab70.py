"""Fixtures for the Zabbix 7.0 tests: the 7.0 lab (scripts/zabbix-lab7, a Debian 13 chroot).

Like conftest.py's 6.0 lab, it is found through its script; when it is not up every test that
uses it is skipped with the reason, and at the first use in a session its working database is
reset to the pristine one (LINEMON_ZABBIX_LAB_RESET=0 keeps it).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from zabbix_utils import ZabbixAPI
from zabbix_utils.exceptions import APIRequestError

LAB7_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "zabbix-lab7"
NOT_UP_70 = "Zabbix 7.0 lab not up: run scripts/zabbix-lab7 up"


def _lab7(*args: str) -> str:
    done = subprocess.run([str(LAB7_SCRIPT), *args], capture_output=True, text=True,
                          timeout=180, check=False)
    if done.returncode != 0:
        pytest.fail(f"scripts/zabbix-lab7 {' '.join(args)} failed: {done.stderr or done.stdout}")
    return done.stdout


class Lab70:
    """The 7.0 lab's exports (`scripts/zabbix-lab7 env --json`) and its reload action."""

    def __init__(self, env: dict[str, str]) -> None:
        self.url = env["LINEMON_ZABBIX_URL"]
        self.user = env["LINEMON_ZABBIX_USER"]
        self.password = env["LINEMON_ZABBIX_PASSWORD"]
        self.server = env["LINEMON_ZABBIX_SERVER"]
        self.trapper_port = int(env["LINEMON_ZABBIX_TRAPPER_PORT"])
        self.env = env

    def reload_config_cache(self) -> None:
        _lab7("reload")


@pytest.fixture(scope="session")
def zabbix70_lab() -> Lab70:
    """The running 7.0 lab with a fresh working database; skips when it is not up."""
    if os.geteuid() != 0:
        pytest.skip("Zabbix 7.0 lab tests run as root (they reset the lab)")
    status = subprocess.run([str(LAB7_SCRIPT), "status", "--quiet"], capture_output=True,
                            timeout=60, check=False)
    if status.returncode != 0:
        pytest.skip(NOT_UP_70)
    if os.environ.get("LINEMON_ZABBIX_LAB_RESET", "1") != "0":
        _lab7("reset")
    return Lab70(json.loads(_lab7("env", "--json")))


@pytest.fixture(scope="session")
def zabbix70_api(zabbix70_lab: Lab70) -> Iterator[ZabbixAPI]:
    """zabbix_utils' client logged in to the 7.0 API (user/password; 7.0 takes a Bearer token)."""
    api = ZabbixAPI(url=zabbix70_lab.url, user=zabbix70_lab.user,
                    password=zabbix70_lab.password)
    yield api
    # Each module that uses the lab resets it (its own fixture instance): by the end of the
    # session an earlier client's session may be gone with the reset database.
    with contextlib.suppress(APIRequestError):
        api.logout()
