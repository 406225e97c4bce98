"""Helpers shared by the Zabbix loop tests (6.0 and 7.0): seed macros, waiting, the broker's
config for an API-synced line set."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from tests.beds.emulator.client import Emulator

SEED_ROUTER_IP = "127.6.0.1"


class ApiLab(Protocol):
    """What a lab fixture (6.0 ZabbixLab or 7.0 Lab70) offers the broker's config."""

    @property
    def url(self) -> str: ...
    @property
    def user(self) -> str: ...
    @property
    def password(self) -> str: ...
    @property
    def server(self) -> str: ...
    @property
    def trapper_port(self) -> int: ...


def seed_macros(line_id: str, router_ip: str = SEED_ROUTER_IP,
                interval: str | None = "10") -> list[dict[str, str]]:
    """A line host's macros exactly the seed's way (password in a macro, as the seed did)."""
    macros = {
        "{$LINE_ID}": line_id,
        "{$LINE_ROUTER_IP}": router_ip,
        "{$LINE_ROUTER_USERNAME}": "lab",
        "{$LINE_ROUTER_PASSWORD}": "lab-pw",
        "{$LINE_ROUTER_PLATFORM}": "cisco_iosxe",
        "{$LINE_ROUTER_PROTOCOL}": "ssh",
        **({"{$LINE_CHECK_INTERVAL}": interval} if interval else {}),
    }
    return [{"macro": k, "value": v} for k, v in macros.items()]


def until(predicate: Any, timeout: float, what: str, every: float = 0.5) -> Any:
    """The predicate's first truthy value within ``timeout`` seconds, polled every ``every`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def api_broker_doc(lab: ApiLab, tmp_path: Path, **api: Any) -> dict[str, Any]:
    """The broker's config: lines from the lab's API (``api`` adds [zabbix_api] keys such as
    host_group), results to the lab's trapper, the API password in a 0600 file."""
    password = tmp_path / "zbx-pw"
    password.write_text(lab.password + "\n")
    os.chmod(password, 0o600)
    return {
        "broker": {"host_key_policy": "tofu"},
        "zabbix": {"server": lab.server, "port": lab.trapper_port, "flush_interval": 0.3},
        "zabbix_api": {"url": lab.url, "user": lab.user, "password_file": str(password),
                       "interval": 3600, **api},
    }


@contextmanager
def line_emulator(tmp_path: Path, router_ip: str, line_ips: Iterable[str], loss: float = 0.0,
                  rtt_ms: float = 5) -> Iterator[Emulator]:
    """One emulated IOS-XE router (login lab/lab-pw, the seed macros') answering every line
    IP with ``loss`` (0-1) and ``rtt_ms``."""
    (tmp_path / "emu").mkdir()
    targets = {ip: {"loss": loss, "rtt_ms": rtt_ms} for ip in line_ips}
    config = {"time_scale": 0.05, "loss_model": "even",
              "defaults": {"username": "lab", "password": "lab-pw"},
              "routers": {"pe": {"host": router_ip, "port": 22, "platform": "cisco_iosxe",
                                 "targets": targets}}}
    with Emulator(config, workdir=tmp_path / "emu") as made:
        yield made
