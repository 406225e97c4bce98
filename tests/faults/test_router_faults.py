"""Router faults: each affected line reports a distinct error status, the rest stay on time,
and sessions come back after recovery without a restart. Figures are printed (-s shows them).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from tests.beds.emulator.client import Emulator
from tests.beds.trapper import TrapperBed
from tests.functional.broker_proc import BrokerProcess, emulator_routers

TARGET = "198.51.100.5"
# Faults set before the broker starts; "silent" and "dropping" hit warm sessions later.
FAULTS: dict[str, dict[str, Any]] = {
    "healthy": {},
    "silent": {},
    "dropping": {},
    "noauth": {"refuse_auth": True},
    "down": {"down": True},
}
LATER = {"silent": {"silent": True}, "dropping": {"drop_mid_command": True}}
EXPECTED = {
    "healthy": "ok",
    "silent": "timeout",
    "dropping": "session_error",
    "noauth": "auth_error",
    "down": "router_unreachable",
}


def _latest(trapper: TrapperBed) -> dict[str, list[dict[str, Any]]]:
    by_line: dict[str, list[dict[str, Any]]] = {}
    for value in trapper.values():
        data = json.loads(value.value)
        by_line.setdefault(data["line"], []).append(data)
    return by_line


def test_router_faults_are_reported_and_recovered(tmp_path: Path) -> None:
    (tmp_path / "emu").mkdir()
    routers = {
        name: {
            "host": f"127.7.0.{i + 1}",
            "port": 0,
            "platform": "cisco_iosxe",
            "targets": {TARGET: {"rtt_ms": 5}},
            "faults": faults,
        }
        for i, (name, faults) in enumerate(FAULTS.items())
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
        doc = {
            "broker": {"host_key_policy": "strict", "known_hosts": str(emulator.known_hosts)},
            "zabbix": {"server": "127.0.0.1", "port": trapper.port, "flush_interval": 0.3},
            "credentials": {"default": {"username": "lab", "password_file": str(secret)}},
            "routers": emulator_routers(emulator, FAULTS),
            "lines": [
                {"id": n, "router": n, "target": TARGET, "count": 2, "timeout": 1, "interval": 10}
                for n in FAULTS
            ],
        }
        with BrokerProcess(tmp_path, doc) as broker:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and set(_latest(trapper)) != set(FAULTS):
                time.sleep(0.3)
            assert {ln: r[0]["status"] for ln, r in _latest(trapper).items()} == {
                **EXPECTED,
                "silent": "ok",
                "dropping": "ok",
            }
            for name, faults in LATER.items():
                emulator.set_fault(name, **faults)
            mark = len(trapper.values())

            def after() -> dict[str, list[str]]:
                seen: dict[str, list[str]] = {}
                for value in trapper.values()[mark:]:
                    data = json.loads(value.value)
                    seen.setdefault(data["line"], []).append(data["status"])
                return seen

            deadline = time.monotonic() + 45
            while time.monotonic() < deadline:
                seen = after()
                if all(EXPECTED[name] in seen.get(name, []) for name in FAULTS):
                    break
                time.sleep(0.3)
            got = {
                name: EXPECTED[name] if EXPECTED[name] in seen.get(name, []) else seen.get(name)
                for name in FAULTS
            }
            assert got == EXPECTED
            # Never a fake measurement: faulty lines carry no loss figure, only their status.
            for name in ("silent", "dropping", "noauth", "down"):
                assert set(seen[name]) <= {
                    EXPECTED[name],
                    "overrun",
                    "router_unreachable",
                    "timeout",
                }, (name, seen[name])
            assert set(seen["healthy"]) == {"ok"}

            # The healthy router kept its schedule while the others failed.
            status = broker.client_json("status", "--json")
            assert status["pings_late"] == 0 and status["overruns"] == 0
            assert status["open_failures"] >= 2 and status["routers_in_backoff"] >= 1

            # Recovery: faults cleared, sessions come back without a restart.
            emulator.set_fault("silent", silent=False)
            emulator.set_fault("dropping", drop_mid_command=False)
            emulator.set_fault("down", down=False)
            trapper_before = len(trapper.values())
            deadline = time.monotonic() + 45
            recovered: set[str] = set()
            while time.monotonic() < deadline and recovered != {"silent", "dropping", "down"}:
                for value in trapper.values()[trapper_before:]:
                    data = json.loads(value.value)
                    if data["status"] == "ok" and data["line"] != "healthy":
                        recovered.add(data["line"])
                time.sleep(0.3)
            assert recovered == {"silent", "dropping", "down"}
            stats = emulator.stats()
            # No tight reconnect loop against the router refusing logins.
            assert stats["noauth"]["connections"] <= 2, stats["noauth"]
            print(
                "FIGURES",
                json.dumps(
                    {
                        "faults_injected": 4,
                        "seen": seen,
                        "statuses": got,
                        "recovered": sorted(recovered),
                        "open_failures": status["open_failures"],
                        "noauth_connections": stats["noauth"]["connections"],
                    }
                ),
            )
