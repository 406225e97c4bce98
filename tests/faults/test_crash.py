"""SIGKILL the broker while it pings, spools and sends: after restarts every result it
recorded is delivered. A value can arrive twice only when the kill lands after Zabbix stored
its batch and before the broker read the reply (the sender protocol cannot close that
window): at most one batch per kill. LINEMON_SLOW=1 runs 20 kills instead of 4."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import time
from collections import Counter
from pathlib import Path

from tests.beds.emulator.client import Emulator
from tests.beds.trapper import TrapperBed
from tests.functional.broker_proc import BrokerProcess, emulator_routers

BATCH = 5
KILLS = 20 if os.environ.get("LINEMON_SLOW") == "1" else 4
RECORDED = re.compile(r"msg=ping .*?line=(\S+) .*?clock=(\d+)\.(\d{9})")


def test_sigkill_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    rng = random.Random(11)
    (tmp_path / "emu").mkdir()
    routers = {
        f"r{i}": {
            "host": f"127.9.0.{i + 1}",
            "port": 0,
            "platform": "cisco_iosxe",
            "default_target": {"rtt_ms": 2},
        }
        for i in range(4)
    }
    config = {
        "time_scale": 0.02,
        "defaults": {"username": "lab", "password": "lab-pw"},
        "routers": routers,
    }
    secret = tmp_path / "pw"
    secret.write_text("lab-pw\n")
    os.chmod(secret, 0o600)
    with Emulator(config, workdir=tmp_path / "emu") as emulator, TrapperBed() as trapper:
        trapper.set_reply_delay(0.05)  # batches are in flight for a while: kills land there
        doc = {
            "broker": {"host_key_policy": "insecure", "log_level": "debug"},  # a line a ping
            "zabbix": {
                "server": "127.0.0.1",
                "port": trapper.port,
                "flush_interval": 0.2,
                "batch_size": 5,
            },
            "credentials": {"default": {"username": "lab", "password_file": str(secret)}},
            "routers": emulator_routers(emulator, routers),
            "lines": [
                {
                    "id": f"{n}-{j}",
                    "router": n,
                    "target": f"198.51.100.{j + 1}",
                    "count": 2,
                    "interval": 10,
                }
                for n in routers
                for j in range(5)
            ],
        }
        broker = BrokerProcess(tmp_path, doc)
        for kill in range(KILLS):
            broker.start()
            if kill % 2:
                trapper.go_down()  # results pile up in the spool, then the kill lands
            time.sleep(rng.uniform(2.0, 6.0))
            assert broker.proc is not None
            broker.proc.send_signal(signal.SIGKILL)
            broker.proc.wait()
            trapper.come_up()
        with broker:  # a last clean run delivers what the spool still holds
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if broker.client_json("status", "--json")["delivery"]["pending"] == 0:
                    break
                time.sleep(0.3)
        recorded = {
            (m.group(1), int(m.group(2)), int(m.group(3)))
            for m in RECORDED.finditer(broker.log_text())
        }
        delivered = Counter((json.loads(v.value)["line"], v.clock, v.ns) for v in trapper.values())
        lost = recorded - set(delivered)
        duplicated = {k: n for k, n in delivered.items() if n > 1}
        print(
            "FIGURES",
            json.dumps(
                {
                    "kills": KILLS,
                    "recorded": len(recorded),
                    "delivered": len(delivered),
                    "lost": len(lost),
                    "duplicated": len(duplicated),
                }
            ),
        )
        assert recorded and not lost
        assert sum(n - 1 for n in duplicated.values()) <= KILLS * BATCH
