"""Session-level router faults through the running broker: vty exhaustion, a slow login and a
host key mismatch. Each affected line reports its own status, the healthy router stays on
time, the broker does not hammer a refusing router (connections counted at the emulator) and
recovers without a restart. Figures are printed (``pytest -s`` shows them)."""

from __future__ import annotations

import asyncio
import json
import os
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from linemon_agent import models
from linemon_agent.broker.hostkeys import HostKeys
from linemon_agent.broker.sessions import OPEN_TIMEOUT
from linemon_agent.broker.transport import open_session
from linemon_agent.errors import SessionError
from linemon_agent.models import Router
from linemon_agent.secrets import Secret
from linemon_agent.settings import Credentials
from tests.beds.emulator.client import Emulator
from tests.beds.trapper import TrapperBed
from tests.functional.broker_proc import BrokerProcess, emulator_routers

TARGET = "198.51.100.9"
SLOW_LOGIN_S = 4.0
INTERVAL = 10
# A distinct status for "the router answered but has no free vty line" once transport.py maps
# asyncssh.ChannelOpenError to it; until then the refusal shows in the line's error text.
REFUSED_STATUS = getattr(models, "STATUS_SESSION_REFUSED", models.STATUS_UNREACHABLE)
ROUTERS: dict[str, dict[str, Any]] = {
    "steady": {},
    "vty": {"max_sessions": 0},  # every vty busy: each session is refused
    "slow": {"faults": {"slow_login_s": SLOW_LOGIN_S}},
    "wrongkey": {},  # the broker's known_hosts holds another key for it
}


def _results(trapper: TrapperBed, since: int = 0) -> dict[str, list[dict[str, Any]]]:
    by_line: dict[str, list[dict[str, Any]]] = {}
    for value in trapper.values()[since:]:
        data = json.loads(value.value)
        by_line.setdefault(data["line"], []).append(data)
    return by_line


def _metric(text: str, name: str, labels: str = "") -> float:
    for row in text.splitlines():
        if row.startswith(f"{name}{labels} "):
            return float(row.split()[-1])
    raise AssertionError(f"{name}{labels} not in /metrics:\n{text}")


def _known_hosts(emulator: Emulator, path: Path) -> Path:
    """The emulator's known_hosts, except that ``wrongkey`` is listed with a fresh key."""
    host, port = emulator.address("wrongkey")
    # Same key type as the router's (RSA): another type would fail the key exchange instead.
    other_key = asyncssh.generate_private_key("ssh-rsa", key_size=2048)
    other = other_key.export_public_key().decode().strip()
    rows = [
        row
        for row in emulator.known_hosts.read_text().splitlines()
        if not {host, f"[{host}]:{port}"} & set(row.split(" ", 1)[0].split(","))
    ]
    path.write_text("\n".join([*rows, f"[{host}]:{port} {other}"]) + "\n")
    return path


def test_vty_exhaustion_slow_login_and_host_key_mismatch(tmp_path: Path) -> None:
    (tmp_path / "emu").mkdir()
    routers = {
        name: {
            "host": f"127.36.1.{i + 1}",
            "port": 0,
            "platform": "cisco_iosxe",
            "targets": {TARGET: {"rtt_ms": 3}},
            **extra,
        }
        for i, (name, extra) in enumerate(ROUTERS.items())
    }
    config = {
        "time_scale": 0.05,
        "defaults": {"username": "lab", "password": "lab-pw"},
        "routers": routers,
    }
    with Emulator(config, workdir=tmp_path / "emu") as emulator, TrapperBed() as trapper:
        secret = tmp_path / "pw"
        secret.write_text("lab-pw\n")
        os.chmod(secret, 0o600)
        known = _known_hosts(emulator, tmp_path / "known_hosts")
        doc = {
            "broker": {
                "host_key_policy": "strict",
                "known_hosts": str(known),
                "metrics_listen": "127.36.1.100:0",
            },
            "zabbix": {"server": "127.0.0.1", "port": trapper.port, "flush_interval": 0.3},
            "credentials": {"default": {"username": "lab", "password_file": str(secret)}},
            "routers": emulator_routers(emulator, ROUTERS),
            "lines": [
                {"id": n, "router": n, "target": TARGET, "count": 2, "timeout": 1,
                 "interval": INTERVAL}
                for n in ROUTERS
            ],
        }
        with BrokerProcess(tmp_path, doc) as broker:
            started = time.monotonic()
            deadline = started + 30
            while time.monotonic() < deadline and set(_results(trapper)) != set(ROUTERS):
                time.sleep(0.2)
            first = {line: r[0] for line, r in _results(trapper).items()}
            assert {line: r["status"] for line, r in first.items()} == {
                "steady": "ok",
                "vty": REFUSED_STATUS,
                "slow": "ok",  # measured once logged in: never a fake loss meanwhile
                "wrongkey": "host_key_error",
            }, first
            assert "No free vty lines" in first["vty"]["error"], first["vty"]  # its reason
            # The slow router's first ping waited for its login (the fault did apply): the
            # wait is queued_ms; duration_ms is the router's own time once asked.
            assert first["slow"]["queued_ms"] >= SLOW_LOGIN_S * 1000, first["slow"]
            assert first["slow"]["duration_ms"] < SLOW_LOGIN_S * 1000, first["slow"]

            # Host key mismatch: refused before login, no byte of a command reached it.
            wrong = emulator.stats("wrongkey")
            assert wrong["logins"] == 0 and emulator.received_bytes("wrongkey") == b""
            routers_json = {r["name"]: r for r in broker.client_json("routers", "--json")}
            assert "host key" in routers_json["wrongkey"]["last_error"]
            assert "host_key_error" in broker.log_text()

            # Let the vty router refuse for a few ping slots: backoff, no tight loop.
            while time.monotonic() < started + 2.5 * INTERVAL:
                time.sleep(0.5)
            refused_for = time.monotonic() - started
            vty = emulator.stats("vty")
            status = broker.client_json("status", "--json")
            metrics = _get(f"http://{status['metrics']['listen']}/metrics")
            # At most one connection per ping slot (plus the first): backoff gates every other.
            slots = int(refused_for // INTERVAL) + 1
            assert 1 <= vty["connections"] <= slots + 1, (vty, slots)
            assert vty["sessions_refused"] == vty["connections"]
            assert _metric(metrics, "linemon_router_open_failures_total", '{router="vty"}') >= 1
            assert _metric(metrics, "linemon_session_open_failures_total") >= 2
            assert status["pings_late"] == 0 and status["overruns"] == 0
            steady = _results(trapper)["steady"]
            assert {r["status"] for r in steady} == {"ok"} and len(steady) >= 2
            slow_open = routers_json["slow"]

            # Lift the limit: the next slot after the backoff logs in, no restart.
            emulator.set_fault("vty", max_sessions=5)
            mark = len(trapper.values())
            deadline = time.monotonic() + 3 * INTERVAL
            while time.monotonic() < deadline:
                if any(r["status"] == "ok" for r in _results(trapper, mark).get("vty", [])):
                    break
                time.sleep(0.3)
            recovered = [r["status"] for r in _results(trapper, mark).get("vty", [])]
            assert "ok" in recovered, recovered
            assert broker.proc is not None and broker.proc.poll() is None
            print(
                "FIGURES",
                json.dumps(
                    {
                        "faults_injected": 3,
                        "first_status": {n: r["status"] for n, r in first.items()},
                        "vty_refused_for_s": round(refused_for, 1),
                        "vty_connections": vty["connections"],
                        "vty_ping_slots": slots,
                        "vty_after_lift": recovered,
                        "slow_login_s": SLOW_LOGIN_S,
                        "slow_opened": slow_open["opened"],
                        "slow_first_queued_ms": first["slow"]["queued_ms"],
                        "steady_results": len(steady),
                        "pings_late": status["pings_late"],
                        "wrongkey_logins": wrong["logins"],
                        "wrongkey_bytes_received": 0,
                    }
                ),
            )


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as reply:
        return str(reply.read().decode())


@pytest.mark.skipif(os.environ.get("LINEMON_SLOW") != "1", reason="long variant: LINEMON_SLOW=1")
def test_login_beyond_the_open_bound_is_a_timeout(tmp_path: Path) -> None:
    """A router whose prompt never comes in time: the line reports it (not a loss, not
    silence) within the open bound, and the healthy router stays on time meanwhile."""
    (tmp_path / "emu").mkdir()
    config = {
        "time_scale": 0.05,
        "defaults": {"username": "lab", "password": "lab-pw"},
        "routers": {
            "steady": {"host": "127.36.4.1", "port": 0, "platform": "cisco_iosxe"},
            "stuck": {"host": "127.36.4.2", "port": 0, "platform": "cisco_iosxe",
                      "faults": {"slow_login_s": 600}},
        },
    }
    with Emulator(config, workdir=tmp_path / "emu") as emulator, TrapperBed() as trapper:
        secret = tmp_path / "pw"
        secret.write_text("lab-pw\n")
        os.chmod(secret, 0o600)
        doc = {
            "broker": {"host_key_policy": "insecure"},
            "zabbix": {"server": "127.0.0.1", "port": trapper.port, "flush_interval": 0.3},
            "credentials": {"default": {"username": "lab", "password_file": str(secret)}},
            "routers": emulator_routers(emulator, ("steady", "stuck")),
            "lines": [
                {"id": n, "router": n, "target": TARGET, "count": 2, "interval": INTERVAL}
                for n in ("steady", "stuck")
            ],
        }
        with BrokerProcess(tmp_path, doc) as broker:
            started = time.monotonic()
            deadline = started + OPEN_TIMEOUT + 30
            # Each slot while the login hangs reports overrun; then the open's own verdict.
            while time.monotonic() < deadline and all(
                r["status"] == "overrun" for r in _results(trapper).get("stuck", [])
            ):
                time.sleep(0.5)
            waited = time.monotonic() - started
            stuck = [r for r in _results(trapper).get("stuck", []) if r["status"] != "overrun"]
            overruns = len(_results(trapper).get("stuck", [])) - len(stuck)
            steady = [r["status"] for r in _results(trapper).get("steady", [])]
            status = broker.client_json("status", "--json")
        print("FIGURES", json.dumps({"stuck_verdict": stuck[:1], "overruns_before": overruns,
                                     "waited_s": round(waited, 1), "steady": steady,
                                     "pings_late": status["pings_late"]}))
        assert stuck and stuck[0]["status"] in ("timeout", "router_unreachable"), stuck
        assert "login" in stuck[0]["error"] or "timed out" in stuck[0]["error"].lower()
        assert waited <= OPEN_TIMEOUT + 15
        assert set(steady) == {"ok"} and len(steady) >= int(waited // INTERVAL)
        assert status["pings_late"] == 0


@pytest.mark.skipif(
    not hasattr(HostKeys, "host_key_algs"),
    reason="needs HostKeys.host_key_algs (transport.py change proposed in issue 5's H6 report)",
)
def test_host_key_of_another_type_is_a_host_key_error(tmp_path: Path) -> None:
    """known_hosts holds an Ed25519 key, the router presents RSA (re-keyed, or another box on
    its address): every open is refused as host_key_error, never as an unreachable router,
    and the router sees no login and no input. Ten opens, since the failure raced before."""
    config = {
        "defaults": {"username": "lab", "password": "lab-pw"},
        "routers": {"rekeyed": {"host": "127.36.5.1", "port": 0, "platform": "cisco_iosxe"}},
    }
    with Emulator(config, workdir=tmp_path) as emulator:
        host, port = emulator.address("rekeyed")
        other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
        known = tmp_path / "known_hosts"
        known.write_text(f"[{host}]:{port} {other.strip()}\n")
        router = Router("rekeyed", host, "cisco_iosxe", port=port)
        creds = Credentials("default", "lab", Secret("lab-pw"))
        keys = HostKeys("strict", known, tmp_path / "learnt")

        async def attempts() -> list[str]:
            seen = []
            for _ in range(10):
                try:
                    session = await open_session(router, creds, keys, "asyncssh")
                except SessionError as exc:
                    seen.append(exc.status)
                else:
                    await session.close()
                    seen.append("opened")
            return seen

        statuses = asyncio.run(attempts())
        stats = emulator.stats("rekeyed")
        print("FIGURES", json.dumps({"opens": len(statuses), "statuses": Counter(statuses),
                                     "logins": stats["logins"]}))
        assert statuses == ["host_key_error"] * 10
        assert stats["logins"] == 0 and emulator.received_bytes("rekeyed") == b""
