"""/healthz tells whether values reach Zabbix: 200 while they do, 503 with the reason when
the oldest value has waited past ``health_pending_age``, 200 again once delivered."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.beds.emulator.client import Emulator
from tests.beds.trapper import TrapperBed
from tests.functional.broker_proc import BrokerProcess, emulator_routers


def _health(listen: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://{listen}/healthz", timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _until(check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


def test_healthz_turns_503_while_values_wait_and_200_once_delivered(tmp_path: Path) -> None:
    (tmp_path / "emu").mkdir()
    fleet = {"time_scale": 0.01,
             "defaults": {"username": "lab", "password": "lab-pw", "max_sessions": 2},
             "routers": {"pe1": {"host": "127.48.2.1", "port": 0, "platform": "cisco_iosxe"}}}
    secret = tmp_path / "pw"
    secret.write_text("lab-pw\n")
    os.chmod(secret, 0o600)
    with Emulator(fleet, workdir=tmp_path / "emu") as emulator, TrapperBed() as trapper:
        doc = {
            "broker": {"host_key_policy": "insecure", "metrics_listen": "127.48.2.100:0",
                       "health_pending_age": 3},
            "zabbix": {"server": "127.0.0.1", "port": trapper.port, "flush_interval": 0.2},
            "credentials": {"default": {"username": "lab", "password_file": str(secret)}},
            "routers": emulator_routers(emulator, ["pe1"]),
            "lines": [{"id": f"l{n}", "router": "pe1", "target": f"198.51.100.{n}",
                       "interval": 10} for n in range(1, 6)],
        }
        with BrokerProcess(tmp_path, doc) as broker:
            listen = broker.client_json("status", "--json")["metrics"]["listen"]
            assert _until(lambda: trapper.values(), 20)
            code, body = _health(listen)
            assert code == 200 and body["ok"] is True and body["reasons"] == []
            trapper.go_down()
            down = _until(lambda: (found := _health(listen))[0] == 503 and found, 30)
            assert down, "no 503 while values waited"
            reason = " ".join(down[1]["reasons"])
            assert "values waiting for Zabbix" in reason and "more than 3 s" in reason
            trapper.come_up()
            up = _until(lambda: (found := _health(listen))[0] == 200 and found, 30)
            assert up and up[1]["delivery"]["pending"] == 0
