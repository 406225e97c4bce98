"""The real broker against a real Linux router (OpenSSH in a namespace) and a trapper receiver.

Loss comes from nftables and delay from a userspace responder behind the router; the broker
logs in with an RSA key, checks the router's host key, pings every line on its interval and
delivers JSON results in batches to the trapper receiver.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.beds.netns import NetnsBed, Target, require_netns
from tests.beds.trapper import TrapperBed
from tests.functional.broker_proc import BrokerProcess

HEALTHY, LOSSY, SLOW, DEAD = "198.19.1.1", "198.19.1.2", "198.19.1.3", "198.19.7.7"


@pytest.fixture(scope="module")
def bed() -> Iterator[NetnsBed]:
    require_netns()
    targets = {HEALTHY: Target(), LOSSY: Target(loss_pct=50.0), SLOW: Target(delay_ms=60.0)}
    with NetnsBed(targets) as made:
        yield made


def _doc(bed: NetnsBed, trapper_port: int, interval: int = 15) -> dict:
    key = Path(bed.ssh_key_path)
    os.chmod(key, 0o600)
    lines = [
        {"id": "healthy", "router": "r1", "target": HEALTHY, "count": 10, "timeout": 1,
         "interval": interval},
        {"id": "lossy", "router": "r1", "target": LOSSY, "count": 10, "timeout": 1,
         "interval": interval},
        {"id": "slow", "router": "r1", "target": SLOW, "count": 5, "timeout": 1,
         "interval": interval},
        {"id": "dead", "router": "r1", "target": DEAD, "count": 3, "timeout": 1,
         "interval": interval},
    ]
    return {
        "broker": {"host_key_policy": "strict", "known_hosts": str(bed.known_hosts_path),
                   "keepalive_interval": 30},
        "zabbix": {"server": "127.0.0.1", "port": trapper_port, "flush_interval": 0.5},
        "credentials": {"default": {"username": bed.ssh_user, "key_file": str(key)}},
        "routers": [{"name": "r1", "host": bed.ssh_host, "platform": "linux",
                     "max_sessions": 2}],
        "lines": lines,
    }


def _latest(trapper: TrapperBed) -> dict[str, dict]:
    latest: dict[str, dict] = {}
    for value in trapper.values():
        data = json.loads(value.value)
        latest[data["line"]] = {**data, "_host": value.host, "_key": value.key,
                                "_clock": value.clock}
    return latest


def _wait_for_lines(trapper: TrapperBed, ids: set[str], timeout: float) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        latest = _latest(trapper)
        if ids <= set(latest):
            return latest
        time.sleep(0.2)
    raise AssertionError(f"no results for {ids - set(_latest(trapper))}")


def test_broker_pings_real_router_and_delivers(bed: NetnsBed, tmp_path: Path) -> None:
    with TrapperBed() as trapper:
        broker = BrokerProcess(tmp_path, _doc(bed, trapper.port))
        with broker:
            latest = _wait_for_lines(trapper, {"healthy", "lossy", "slow", "dead"}, 40)
            healthy, lossy, slow, dead = (latest[k] for k in ("healthy", "lossy", "slow", "dead"))
            assert healthy["status"] == "ok" and healthy["loss_pct"] == 0.0
            assert healthy["_host"] == "healthy" and healthy["_key"] == "linemon.result"
            assert abs(healthy["_clock"] - time.time()) < 60
            assert lossy["status"] == "ok" and 10.0 <= lossy["loss_pct"] <= 90.0
            assert slow["status"] == "ok" and 55.0 <= slow["rtt_avg_ms"] <= 120.0
            assert dead["status"] == "no_reply" and dead["loss_pct"] == 100.0

            status = broker.client_json("status", "--json")
            assert status["routers"] == 1 and status["lines"] == 4
            assert 1 <= status["sessions"] <= 2

            waited = broker.client_json("ping", "r1", SLOW, "--count", "3", "--wait")
            assert waited["status"] == "ok" and waited["rtt_min_ms"] >= 55.0
            queued = broker.client("ping", "r1", HEALTHY)
            assert queued.returncode == 0 and queued.stdout.strip() == "1"

            lld = json.loads(broker.client("discover").stdout)
            assert {row["{#LINE.ID}"] for row in lld} == {"healthy", "lossy", "slow", "dead"}

            bad = broker.client("ping", "r1", "198.19.1.1;reboot")
            assert bad.returncode == 2 and "invalid target" in bad.stderr

            # Live reconfiguration: drop two lines, SIGHUP, they are gone without restart.
            broker.doc["lines"] = broker.doc["lines"][:2]
            broker.write_config()
            broker.signal(signal.SIGHUP)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                ids = {row["id"] for row in broker.client_json("lines", "--json")}
                if ids == {"healthy", "lossy"}:
                    break
                time.sleep(0.2)
            assert ids == {"healthy", "lossy"}
        assert broker.proc is not None and broker.proc.returncode == 0
        log = broker.log_text()
        assert "broker stopped" in log
        # Every value carries its measurement's own clock, and none arrived twice.
        stamps = [(v.host, v.clock, v.ns) for v in trapper.values()]
        assert len(stamps) == len(set(stamps))
        assert all(0 <= ns < 10**9 for _, _, ns in stamps)


def test_forty_probe_ping_outlasts_the_read_timeout(bed: NetnsBed, tmp_path: Path) -> None:
    """iputils ``ping -q -c 40`` prints nothing for ~40 s: scrapli's 30 s read timeout used to
    cut it ("status timeout" after 30.4 s); each read now waits as long as the ping may."""
    with TrapperBed() as trapper:
        doc = _doc(bed, trapper.port)
        doc["lines"] = []
        with BrokerProcess(tmp_path, doc) as broker:
            started = time.monotonic()
            done = {}
            for target in (HEALTHY, DEAD):  # both at once, on the router's two sessions
                done[target] = broker.client_async(
                    "ping", "r1", target, "--count", "40", "--wait"
                )
            answers = {t: p.communicate(timeout=120) for t, p in done.items()}
            assert all(out for out, _ in answers.values()), answers
            results = {t: json.loads(out) for t, (out, _) in answers.items()}
            took = time.monotonic() - started
            healthy, dead = results[HEALTHY], results[DEAD]
            assert healthy["status"] == "ok", healthy
            assert (healthy["sent"], healthy["received"], healthy["loss_pct"]) == (40, 40, 0.0)
            assert dead["status"] == "no_reply", dead
            assert (dead["sent"], dead["received"], dead["loss_pct"]) == (40, 0, 100.0)
            assert took >= 39.0  # the probes are a second apart: the ping really ran
            figures = {
                "forty_probe_wall_s": round(took, 1),
                "healthy_duration_ms": healthy.get("duration_ms"),
                "dead_duration_ms": dead.get("duration_ms"),
            }
            print("FIGURES", json.dumps(figures))
