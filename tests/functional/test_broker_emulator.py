"""The real broker against the router emulator: every platform, results as the bed was told.

The emulator's "even" loss model drops exactly round(loss * n) of n probes, so the loss the
broker reports can be checked exactly; RTTs are checked against the configured delay.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
import urllib.request
from pathlib import Path

from tests.beds.emulator.client import Emulator
from tests.beds.emulator.render import PLATFORMS
from tests.beds.trapper import TrapperBed
from tests.functional.broker_proc import BrokerProcess

GOOD, LOSSY = "198.51.100.10", "198.51.100.20"
# RouterOS and VyOS have no per-probe timeout; linemon gives SR Linux's ping none.
OPTIONS: dict[str, dict[str, float]] = {"mikrotik_routeros": {}, "nokia_srlinux": {}, "vyos": {}}


def _fleet() -> dict:
    routers = {}
    for index, platform in enumerate(PLATFORMS):
        routers[f"r-{platform}"] = {
            "host": f"127.4.0.{index + 1}",
            "port": 0,
            "platform": platform,
            "targets": {GOOD: {"loss": 0.0, "rtt_ms": 20.0}, LOSSY: {"loss": 0.4, "rtt_ms": 50.0}},
        }
    return {
        "time_scale": 0.05,
        "loss_model": "even",
        "seed": 3,
        "defaults": {"username": "lab", "password": "lab-pw", "max_sessions": 3},
        "routers": routers,
    }


def _doc(emulator: Emulator, workdir: Path, trapper_port: int) -> dict:
    secret = workdir / "pw"
    secret.write_text("lab-pw\n")
    os.chmod(secret, 0o600)
    routers, lines = [], []
    for platform in PLATFORMS:
        name = f"r-{platform}"
        host, port = emulator.address(name)
        routers.append({"name": name, "host": host, "port": port, "platform": platform})
        for kind, target in (("good", GOOD), ("lossy", LOSSY)):
            lines.append(
                {
                    "id": f"{kind}-{platform}",
                    "router": name,
                    "target": target,
                    "count": 10,
                    "interval": 10,
                    **OPTIONS.get(platform, {"timeout": 2}),
                }
            )
    return {
        "broker": {
            "host_key_policy": "strict",
            "known_hosts": str(emulator.known_hosts),
            "metrics_listen": "127.0.0.1:0",
        },
        "zabbix": {"server": "127.0.0.1", "port": trapper_port, "flush_interval": 0.3},
        "credentials": {"default": {"username": "lab", "password_file": str(secret)}},
        "routers": routers,
        "lines": lines,
    }


def _latest(trapper: TrapperBed) -> dict[str, dict]:
    return {json.loads(v.value)["line"]: json.loads(v.value) for v in trapper.values()}


def test_every_platform_through_the_broker(tmp_path: Path) -> None:
    (tmp_path / "emu").mkdir()
    with Emulator(_fleet(), workdir=tmp_path / "emu") as emulator, TrapperBed() as trapper:
        broker = BrokerProcess(tmp_path, _doc(emulator, tmp_path, trapper.port))
        with broker:
            wanted = {f"{kind}-{p}" for p in PLATFORMS for kind in ("good", "lossy")}
            deadline = time.monotonic() + 45
            while time.monotonic() < deadline and not wanted <= set(_latest(trapper)):
                time.sleep(0.3)
            latest = _latest(trapper)
            assert wanted <= set(latest), sorted(wanted - set(latest))
            for platform in PLATFORMS:
                good, lossy = latest[f"good-{platform}"], latest[f"lossy-{platform}"]
                assert good["status"] == "ok", (platform, good)
                assert (good["sent"], good["received"], good["loss_pct"]) == (10, 10, 0.0)
                assert 15.0 <= good["rtt_avg_ms"] <= 30.0, (platform, good)
                assert lossy["status"] == "ok", (platform, lossy)
                assert (lossy["sent"], lossy["received"], lossy["loss_pct"]) == (10, 6, 40.0)
                assert 40.0 <= lossy["rtt_avg_ms"] <= 65.0, (platform, lossy)

            # Health and Prometheus metrics on loopback.
            listen = broker.client_json("status", "--json")["metrics"]["listen"]
            with urllib.request.urlopen(f"http://{listen}/metrics", timeout=5) as answer:
                metrics = answer.read().decode()
            assert 'linemon_pings_total{status="ok"}' in metrics
            assert "linemon_ping_duration_seconds_count" in metrics
            assert f"linemon_lines {2 * len(PLATFORMS)}" in metrics
            assert "lab-pw" not in metrics
            # Every client request is timed: three more requests, three more observations.
            def answered(text: str) -> int:
                found = re.search(r"^linemon_socket_request_seconds_count (\d+)$", text, re.M)
                assert found, text
                return int(found.group(1))

            before = answered(metrics)
            for _ in range(3):
                broker.client_json("status", "--json")
            with urllib.request.urlopen(f"http://{listen}/metrics", timeout=5) as answer:
                assert answered(answer.read().decode()) == before + 3
            with urllib.request.urlopen(f"http://{listen}/healthz", timeout=5) as answer:
                assert answer.status == 200 and json.loads(answer.read())["ok"] is True

            # Sessions stay warm: each router logged in once or a little more, not per ping.
            stats = emulator.stats()
            for platform in PLATFORMS:
                router = stats[f"r-{platform}"]
                assert router["pings"] >= 2
                assert router["logins"] <= 3, (platform, router)

            # Remove two routers live: their sessions close, their lines stop.
            removed = {"r-huawei_vrp", "r-linux"}
            broker.doc["routers"] = [r for r in broker.doc["routers"] if r["name"] not in removed]
            broker.doc["lines"] = [ln for ln in broker.doc["lines"] if ln["router"] not in removed]
            broker.write_config()
            broker.signal(signal.SIGHUP)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                stats = emulator.stats()
                if all(stats[name]["sessions_open"] == 0 for name in removed):
                    break
                time.sleep(0.2)
            assert all(stats[name]["sessions_open"] == 0 for name in removed), stats
            routers = {row["name"] for row in broker.client_json("routers", "--json")}
            assert routers.isdisjoint(removed) and len(routers) == len(PLATFORMS) - 2
        assert broker.proc is not None and broker.proc.returncode == 0
