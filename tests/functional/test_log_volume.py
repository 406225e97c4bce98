"""Logs an operator can keep (issue 19): at info, 1,000 healthy lines for two minutes write a
handful of lines, not one per ping; a line that goes dead is one transition line however many
times it is pinged; at debug every ping is there. Figures are printed (-s shows them)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from tests.beds.emulator.client import Emulator
from tests.beds.trapper import TrapperBed
from tests.functional.broker_proc import BrokerProcess, emulator_routers

ROUTERS = [f"v{i}" for i in range(10)]
LINES_PER_ROUTER = 100
INTERVAL = 10
RUN_S = 125
DEAD = "198.51.100.250"


def _doc(emulator: Emulator, workdir: Path, port: int, level: str,
         routers: list[str] = ROUTERS) -> dict[str, Any]:
    secret = workdir / "pw"
    secret.write_text("lab-pw\n")
    os.chmod(secret, 0o600)
    lines = [
        {"id": f"{r}-{j}", "router": r, "target": f"198.51.100.{j + 1}", "count": 3,
         "timeout": 1, "interval": INTERVAL}
        for r in routers
        for j in range(LINES_PER_ROUTER)
    ]
    lines.append({"id": "dying", "router": ROUTERS[0], "target": DEAD, "count": 3,
                  "timeout": 1, "interval": INTERVAL})
    return {
        "broker": {"host_key_policy": "insecure", "log_level": level,
                   "max_pings_per_second": 1000},
        "zabbix": {"server": "127.0.0.1", "port": port},
        "credentials": {"default": {"username": "lab", "password_file": str(secret)}},
        "routers": emulator_routers(emulator, routers, max_sessions=4),
        "lines": lines,
    }


def _fleet() -> dict[str, Any]:
    return {
        "time_scale": 0.01,
        "defaults": {"username": "lab", "password": "lab-pw", "max_sessions": 4},
        "routers": {name: {"host": f"127.49.0.{i + 1}", "port": 0, "platform": "cisco_iosxe"}
                    for i, name in enumerate(ROUTERS)},
    }


def test_info_logs_changes_not_pings(tmp_path: Path) -> None:
    (tmp_path / "emu").mkdir()
    with Emulator(_fleet(), workdir=tmp_path / "emu") as emulator, TrapperBed() as trapper:
        broker = BrokerProcess(tmp_path, _doc(emulator, tmp_path, trapper.port, "info"))
        with broker:
            time.sleep(RUN_S - 30)
            emulator.set_target(ROUTERS[0], DEAD, loss=1.0)  # the line goes dead
            time.sleep(30)
            status = broker.client_json("status", "--json")
            log = broker.log_text().splitlines()
    pings = sum(status["results"].values())
    dying = [ln for ln in log if "line=dying" in ln]
    summaries = [ln for ln in log if 'msg="summary (once a minute)"' in ln]
    figures = {"pings": pings, "log_lines": len(log), "summaries": len(summaries),
               "dying_lines": dying}
    print("FIGURES", json.dumps(figures))
    assert pings >= 10_000  # 1,001 lines every 10 s for two minutes
    assert not [ln for ln in log if "msg=ping " in ln]  # no line per ping at info
    assert len(summaries) == 2
    assert len(dying) == 1 and 'msg="line not answering"' in dying[0]  # one, not one per ping
    assert "loss_pct=100.0" in dying[0]
    # start, sessions (one or two per router), two summaries, the transition: a handful
    assert len(log) <= 10 + 2 * len(ROUTERS) * 4, log


def test_debug_logs_every_ping(tmp_path: Path) -> None:
    (tmp_path / "emu").mkdir()
    fleet = _fleet()
    fleet["routers"] = {ROUTERS[0]: fleet["routers"][ROUTERS[0]]}
    with Emulator(fleet, workdir=tmp_path / "emu") as emulator, TrapperBed() as trapper:
        doc = _doc(emulator, tmp_path, trapper.port, "debug", ROUTERS[:1])
        doc["lines"] = doc["lines"][:20]
        with BrokerProcess(tmp_path, doc) as broker:
            time.sleep(INTERVAL + 3)
            status = broker.client_json("status", "--json")
            log = broker.log_text().splitlines()
    pings = [ln for ln in log if "msg=ping " in ln]
    assert len(pings) == sum(status["results"].values()) >= 20
