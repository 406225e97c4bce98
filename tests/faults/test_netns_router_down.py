"""Router down and back with a real router (OpenSSH in a network namespace, tests/beds/netns.py):
the uplink goes down under a warm session, or the router's sshd dies with its sessions; the
line reports why (never a fake loss, never silence), the broker backs off, and once the router
is back the session is reopened without a restart. Needs root, ``ip netns`` and sshd (skipped
without). Figures are printed (``-s``)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.beds.netns import NetnsBed, Target, require_netns
from tests.beds.trapper import TrapperBed
from tests.functional.broker_proc import BrokerProcess

TARGET = "198.19.36.1"
INTERVAL = 10
DOWN_FOR_S = 2 * INTERVAL
ERRORS = {"timeout", "router_unreachable", "session_error", "overrun"}


def _statuses(trapper: TrapperBed, since: int = 0) -> list[str]:
    return [json.loads(v.value)["status"] for v in trapper.values()[since:]]


def _link(bed: NetnsBed, state: str) -> None:
    subprocess.run(["ip", "link", "set", bed.root_link, state], check=True)


@contextmanager
def _warm_broker(tmp_path: Path, bed: NetnsBed, trapper: TrapperBed) -> Iterator[BrokerProcess]:
    """The broker pinging one line through the bed's router, its first result ``ok``."""
    key = Path(bed.ssh_key_path)
    os.chmod(key, 0o600)
    doc: dict[str, Any] = {
        "broker": {"host_key_policy": "strict", "known_hosts": str(bed.known_hosts_path)},
        "zabbix": {"server": "127.0.0.1", "port": trapper.port, "flush_interval": 0.3},
        "credentials": {"default": {"username": bed.ssh_user, "key_file": str(key)}},
        "routers": [{"name": "r1", "host": bed.ssh_host, "platform": "linux"}],
        "lines": [{"id": "l1", "router": "r1", "target": TARGET, "count": 2, "timeout": 1,
                   "interval": INTERVAL}],
    }
    with BrokerProcess(tmp_path, doc) as broker:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "ok" not in _statuses(trapper):
            time.sleep(0.2)
        assert _statuses(trapper)[:1] == ["ok"], _statuses(trapper)
        yield broker


def _until_ok(trapper: TrapperBed) -> tuple[list[str], float]:
    """After the router is back: the statuses until the first ``ok`` (or a bound), and when."""
    up_at, mark = time.monotonic(), len(trapper.values())
    deadline = up_at + 3 * INTERVAL + 20
    while time.monotonic() < deadline and "ok" not in _statuses(trapper, mark):
        time.sleep(0.3)
    return _statuses(trapper, mark), time.monotonic() - up_at


def _print_figures(fault: str, down_s: float, during: list[str], status: dict[str, Any],
                   after: list[str], recovered_in: float) -> None:
    print("FIGURES", json.dumps({
        "fault": fault, "down_s": round(down_s, 1), "during": during,
        "open_failures": status["open_failures"], "after": after,
        "recovered_in_s": round(recovered_in, 1),
    }))


def test_real_router_down_and_back(tmp_path: Path) -> None:
    require_netns()
    with NetnsBed({TARGET: Target()}) as bed, TrapperBed() as trapper:
        with _warm_broker(tmp_path, bed, trapper) as broker:
            _link(bed, "down")
            down_at, mark = time.monotonic(), len(trapper.values())
            try:
                deadline = down_at + DOWN_FOR_S + 25
                while time.monotonic() < deadline and not (
                    time.monotonic() >= down_at + DOWN_FOR_S and _statuses(trapper, mark)
                ):
                    time.sleep(0.3)
                during = _statuses(trapper, mark)
                status = broker.client_json("status", "--json")
            finally:
                _link(bed, "up")
            up_at = time.monotonic()
            after, recovered_in = _until_ok(trapper)
            assert broker.proc is not None and broker.proc.poll() is None
        _print_figures("uplink down under a warm session", up_at - down_at, during, status,
                       after, recovered_in)
        assert during and set(during) <= ERRORS, during
        assert "ok" in after, after


def test_real_router_sshd_stopped_and_started(tmp_path: Path) -> None:
    require_netns()
    with NetnsBed({TARGET: Target()}) as bed, TrapperBed() as trapper:
        with _warm_broker(tmp_path, bed, trapper) as broker:
            bed.stop_sshd()  # the warm session dies with it; new connections are refused
            down_at, mark = time.monotonic(), len(trapper.values())
            time.sleep(DOWN_FOR_S)
            during = _statuses(trapper, mark)
            status = broker.client_json("status", "--json")
            bed.start_sshd()
            up_at = time.monotonic()
            after, recovered_in = _until_ok(trapper)
            assert broker.proc is not None and broker.proc.poll() is None
        _print_figures("router sshd killed with its sessions, then started", up_at - down_at,
                       during, status, after, recovered_in)
        assert during and set(during) <= ERRORS, during
        assert "router_unreachable" in during, during  # connection refused, said so
        assert 1 <= status["open_failures"] <= 8  # backoff, not a tight reconnect loop
        assert "ok" in after, after
