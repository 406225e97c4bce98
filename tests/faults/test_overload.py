"""Overload: every router goes silent under 200 lines, then the trapper goes down. The
broker's log stays bounded while its overrun and skipped counters stay exact, SIGTERM ends it within
``shutdown_timeout`` plus a few seconds, and what it recorded but could not send is delivered
after a restart, once each. Figures are printed (-s shows them).
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

from tests.beds.emulator.client import Emulator
from tests.beds.trapper import TrapperBed
from tests.functional.broker_proc import BrokerProcess, emulator_routers

ROUTERS = [f"r{i}" for i in range(8)]
LINES_PER_ROUTER = 25
SHUTDOWN_TIMEOUT = 3.0
STOP_BOUND = SHUTDOWN_TIMEOUT + 6.0  # drain + cancel wait, the reporter's last try, closes


def _until(check: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_silent_fleet_bounded_log_fast_stop_nothing_lost(tmp_path: Path) -> None:
    (tmp_path / "emu").mkdir()
    config = {
        "time_scale": 0.05,
        "defaults": {"username": "lab", "password": "lab-pw"},
        "routers": {
            name: {"host": f"127.47.0.{i + 1}", "port": 0, "platform": "cisco_iosxe"}
            for i, name in enumerate(ROUTERS)
        },
    }
    with Emulator(config, workdir=tmp_path / "emu") as emulator, TrapperBed() as trapper:
        secret = tmp_path / "pw"
        secret.write_text("lab-pw\n")
        os.chmod(secret, 0o600)
        lines = [
            {"id": f"{r}-{j}", "router": r, "target": f"198.51.100.{j + 1}", "count": 5,
             "timeout": 1, "interval": 10}
            for r in ROUTERS
            for j in range(LINES_PER_ROUTER)
        ]
        doc = {
            "broker": {
                "host_key_policy": "insecure",
                "shutdown_timeout": SHUTDOWN_TIMEOUT,
                "max_pings_per_second": 1000,
            },
            "zabbix": {"server": "127.0.0.1", "port": trapper.port, "flush_interval": 0.3},
            "credentials": {"default": {"username": "lab", "password_file": str(secret)}},
            "routers": emulator_routers(emulator, ROUTERS),
            "lines": lines,
        }
        broker = BrokerProcess(tmp_path, doc).start()
        try:
            _until(lambda: len({json.loads(v.value)["line"] for v in trapper.values()})
                   == len(lines), 30)
            for name in ROUTERS:
                emulator.set_fault(name, silent=True)
            time.sleep(20)  # two slots with every ping hanging
            trapper.go_down()  # and Zabbix gone for the last seconds: values wait in the spool
            time.sleep(5)
            status = broker.client_json("status", "--json")
        finally:
            started = time.monotonic()
            code = broker.stop(timeout=60)
            stop_s = time.monotonic() - started
        stopped_at = time.time()
        log = broker.log_text()
        warnings = [ln for ln in log.splitlines() if 'msg="overrun:' in ln]
        stopped = [ln for ln in log.splitlines() if 'msg="broker stopped"' in ln]
        assert code == 0 and len(stopped) == 1
        # the pings in sessions hang past their next slot (overrun); the ones queued behind
        # them are never sent (skipped): most lines are one or the other, none a timeout
        assert status["overruns"] >= 1 and status["pings_skipped"] >= 1
        assert status["overruns"] + status["pings_skipped"] >= len(lines) // 2
        assert 1 <= len(warnings) <= 2, warnings  # one summary a minute, not one per line
        assert stop_s <= STOP_BOUND, stop_s
        pending = int(re.search(r"pending_values=(\d+)", stopped[0]).group(1))  # type: ignore[union-attr]
        cancelled = int(re.search(r"cancelled_pings=(\d+)", stopped[0]).group(1))  # type: ignore[union-attr]
        sent_first = len(trapper.values())

        # Restart on the same spool with the routers answering again: the first broker's
        # recorded values arrive, each once, with their original clocks.
        assert pending > 0
        for name in ROUTERS:
            emulator.set_fault(name, silent=False)
        trapper.come_up()
        with BrokerProcess(tmp_path, doc):

            def first_run() -> list[tuple[str, int, int]]:
                return [
                    (json.loads(v.value)["line"], int(v.clock), int(v.ns))
                    for v in trapper.values()
                    if int(v.clock) + int(v.ns) / 1e9 < stopped_at
                ]

            _until(lambda: len(first_run()) >= sent_first + pending, 60)
            time.sleep(1.0)
            values = first_run()
        assert len(set(values)) == len(values)  # none sent twice
        assert len(values) == sent_first + pending, (values[sent_first:], stopped_at)
        print(
            "FIGURES",
            json.dumps(
                {
                    "lines": len(lines),
                    "overruns": status["overruns"],
                    "skipped": status["pings_skipped"],
                    "overrun_log_lines": len(warnings),
                    "stop_s": round(stop_s, 2),
                    "stop_bound_s": STOP_BOUND,
                    "cancelled_pings": cancelled,
                    "sent_before_stop": sent_first,
                    "spooled_at_stop": pending,
                    "delivered_after_restart": len(values) - sent_first,
                    "duplicates": len(values) - len(set(values)),
                    "lost": sent_first + pending - len(values),
                }
            ),
        )
