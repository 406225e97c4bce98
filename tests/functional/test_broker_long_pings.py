"""Long pings through the real broker on every emulated platform, in real time (issue 12).

Each platform runs a 32-probe ping to a target that loses every other probe (the "even" loss
model: exactly 16 lost), each lost probe waiting its full per-probe timeout: 31-48 s of
device time, longer than scrapli's 30 s read timeout. Linux (``ping -q``) prints nothing
until the end; the others print as probes complete. Every result must be the true loss, not
a timeout: the command's deadline covers the platform's worst case and every read timeout
scrapli applies is raised to it.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from linemon_agent.platforms import get_platform
from tests.beds.emulator.client import Emulator
from tests.beds.emulator.render import PLATFORMS
from tests.functional.broker_proc import BrokerProcess

TARGET = "198.51.100.77"
COUNT = 32


def _fleet() -> dict:
    routers = {
        f"long-{platform}": {
            "host": f"127.41.0.{index + 1}",
            "port": 0,
            "platform": platform,
            "targets": {TARGET: {"loss": 0.5, "rtt_ms": 5.0}},
        }
        for index, platform in enumerate(PLATFORMS)
    }
    return {
        "time_scale": 1.0,
        "loss_model": "even",
        "defaults": {"username": "lab", "password": "long-pw", "max_sessions": 2},
        "routers": routers,
    }


def test_long_pings_return_their_loss_on_every_platform(tmp_path: Path) -> None:
    (tmp_path / "emu").mkdir()
    secret = tmp_path / "pw"
    secret.write_text("long-pw\n")
    os.chmod(secret, 0o600)
    with Emulator(_fleet(), workdir=tmp_path / "emu") as emulator:
        routers, lines = [], []
        for platform in PLATFORMS:
            name = f"long-{platform}"
            host, port = emulator.address(name)
            routers.append({"name": name, "host": host, "port": port, "platform": platform})
            line = {"id": name, "router": name, "target": TARGET, "count": COUNT}
            if "timeout" in get_platform(platform).supports:  # not RouterOS, SR Linux, VyOS
                line["timeout"] = 2
            lines.append({**line, "interval": 86400})  # run on demand only (below)
        doc = {
            "broker": {"host_key_policy": "insecure"},
            "zabbix": {"server": "127.0.0.1", "port": 9},
            "credentials": {"default": {"username": "lab", "password_file": str(secret)}},
            "routers": routers,
            "lines": lines,
        }
        with BrokerProcess(tmp_path, doc) as broker:
            started = time.monotonic()
            running = {
                p: broker.client_async("ping", "--line", f"long-{p}", "--wait") for p in PLATFORMS
            }
            answers = {p: proc.communicate(timeout=240) for p, proc in running.items()}
            took = time.monotonic() - started
        figures: dict[str, float] = {}
        for platform, (out, err) in answers.items():
            assert out, (platform, err)
            result = json.loads(out)
            assert result["status"] == "ok", (platform, result)
            assert (result["sent"], result["received"], result["loss_pct"]) == (COUNT, 16, 50.0)
            figures[platform] = round(result["duration_ms"] / 1000, 1)
        assert max(figures.values()) > 30.0, figures  # longer than the old read timeout
        print("FIGURES", json.dumps({"wall_s": round(took, 1), "duration_s": figures}))
