"""Many lines on one router, in real time on the emulator (issue 11): a router over its session
budget reports pings it could not send as ``skipped`` (never ``timeout``), shows its load and
warns once a minute; the same router with enough sessions skips nothing; a dead line's down
probe holds a session for one probe, and a line that comes back is measured in full at once;
a new line asked for while every session is taken starts with the probe too.
Figures are printed (-s shows them)."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tests.beds.emulator.client import Emulator
from tests.beds.trapper import TrapperBed
from tests.functional.broker_proc import BrokerProcess, emulator_routers

HEALTHY = [f"198.51.100.{n}" for n in range(10, 26)]  # 16 healthy lines (20 ms)
DEAD = [f"203.0.113.{n}" for n in range(10, 14)]  # 4 dead lines: 5 probes x 1 s each
INTERVAL = 10


def _fleet(max_sessions: int = 8) -> dict[str, Any]:
    return {
        "time_scale": 1.0,
        "loss_model": "even",
        "defaults": {"username": "lab", "password": "lab-pw", "max_sessions": max_sessions},
        "routers": {
            "pe1": {
                "host": "127.48.0.1",
                "port": 0,
                "platform": "cisco_iosxe",
                "default_target": {"rtt_ms": 20.0},
                "targets": {t: {"loss": 1.0} for t in DEAD},
            }
        },
    }


def _doc(emulator: Emulator, workdir: Path, port: int, sessions: int, probe: int) -> dict:
    secret = workdir / "pw"
    secret.write_text("lab-pw\n")
    os.chmod(secret, 0o600)
    lines = [
        {"id": f"{'dead' if t in DEAD else 'ok'}-{t.rsplit('.', 1)[1]}", "router": "pe1",
         "target": t, "count": 5, "timeout": 1, "interval": INTERVAL}
        for t in HEALTHY + DEAD
    ]
    return {
        "broker": {"host_key_policy": "insecure", "keepalive_interval": 20,
                   "down_probe_count": probe},
        "zabbix": {"server": "127.0.0.1", "port": port, "flush_interval": 0.3},
        "credentials": {"default": {"username": "lab", "password_file": str(secret)}},
        "routers": emulator_routers(emulator, ["pe1"], max_sessions=sessions),
        "lines": lines,
    }


def _results(trapper: TrapperBed) -> list[dict[str, Any]]:
    return [json.loads(v.value) for v in trapper.values()]


def _busy_when_asked(result: dict[str, Any], results: list[dict[str, Any]]) -> bool:
    """Another ping held the router's session when ``result``'s ping was asked for (each
    result's clock is when its command was sent, ``queued_ms`` before that it was asked)."""
    asked = result["clock"] - result["queued_ms"] / 1000
    return any(r is not result and r["clock"] < asked - 0.05
               and asked + 0.05 < r["clock"] + r["duration_ms"] / 1000 for r in results)


def test_router_over_budget_skips_honestly_and_says_what_to_change(tmp_path: Path) -> None:
    (tmp_path / "emu").mkdir()
    with Emulator(_fleet(), workdir=tmp_path / "emu") as emulator, TrapperBed() as trapper:
        # one session, down probes off: the dead lines alone need 20 s of every 10 s
        doc = _doc(emulator, tmp_path, trapper.port, sessions=1, probe=0)
        with BrokerProcess(tmp_path, doc) as broker:
            time.sleep(3 * INTERVAL + 5)
            routers = broker.client_json("routers", "--json")
            status = broker.client_json("status", "--json")
            time.sleep(1.0)  # the reporter's flush: every result counted above has arrived
            results = _results(trapper)
            log = broker.log_text()
    healthy = [r for r in results if r["line"].startswith("ok-")]
    by_status = Counter(r["status"] for r in healthy)
    warnings = [ln for ln in log.splitlines() if "session budget" in ln]
    print("FIGURES", json.dumps({"healthy": dict(by_status), "load": routers[0]["load"],
                                 "skipped": status["pings_skipped"],
                                 "on_time": status["pings_on_time"],
                                 "late": status["pings_late"]}))
    assert healthy and set(by_status) <= {"ok", "skipped"}, by_status  # never a timeout
    assert by_status["skipped"] >= 1 and by_status["ok"] >= 1
    skipped = next(r for r in healthy if r["status"] == "skipped")
    assert "busy" in skipped["error"] and skipped["queued_ms"] > 0 and skipped["sent"] is None
    assert status["pings_skipped"] >= 1
    assert status["pings_late"] >= status["pings_skipped"]
    assert routers[0]["load"] > 1.0 and routers[0]["sessions_needed"] >= 2
    assert routers[0]["skipped"] == status["pings_skipped"]
    assert len(warnings) == 1 and "raise max_sessions to" in warnings[0]  # once a minute
    dead = [r for r in results if r["line"].startswith("dead-") and r["status"] == "no_reply"]
    assert dead and all(r["sent"] == 5 for r in dead)  # probes off: the full ping each time


def test_enough_sessions_skip_nothing_and_down_probes_shorten_dead_lines(tmp_path: Path) -> None:
    (tmp_path / "emu").mkdir()
    with Emulator(_fleet(), workdir=tmp_path / "emu") as emulator, TrapperBed() as trapper:
        doc = _doc(emulator, tmp_path, trapper.port, sessions=4, probe=1)
        with BrokerProcess(tmp_path, doc) as broker:
            time.sleep(2 * INTERVAL + 3)
            emulator.set_target("pe1", DEAD[0], loss=0.0, rtt_ms=20.0)  # the line comes back
            time.sleep(INTERVAL + 3)
            status = broker.client_json("status", "--json")
            routers = broker.client_json("routers", "--json")
        results = _results(trapper)
    by_status = Counter(r["status"] for r in results)
    assert by_status["skipped"] == 0 and status["pings_skipped"] == 0
    assert by_status["timeout"] == 0 and routers[0]["load"] < 1.0
    revived = sorted((r for r in results if r["target"] == DEAD[0]), key=lambda r: r["clock"])
    answered = [i for i, r in enumerate(revived) if r["received"]]
    assert answered, revived
    dead, back = revived[: answered[0]], revived[answered[0]]
    probes = [r for r in dead if r.get("extra", {}).get("down_probe")]
    assert dead and all(r["status"] == "no_reply" for r in dead)
    # its first ping is the full count, unless it came while a login was under way (a new
    # line on a router with no free session starts with the probe); after a no_reply, always
    # the probe
    first = dead[0]
    assert first["sent"] == (1 if first in probes else 5)
    assert dead[1:] and all(r in probes for r in dead[1:])
    assert all(r["sent"] == 1 and r["loss_pct"] == 100.0 for r in probes)
    assert all(r["duration_ms"] < 2500 for r in probes)  # one 1 s probe, not five
    # the probe got a reply: the full count ran in the same slot
    assert back["status"] == "ok" and back["sent"] == 5 and back["received"] == 5
    assert "down_probe" not in back.get("extra", {})
    print("FIGURES", json.dumps({"probe_ms": [r["duration_ms"] for r in probes],
                                 "first_ms": first["duration_ms"],
                                 "back_ms": back["duration_ms"], "load": routers[0]["load"]}))


def test_new_lines_on_a_busy_router_start_with_the_down_probe(tmp_path: Path) -> None:
    (tmp_path / "emu").mkdir()
    with Emulator(_fleet(), workdir=tmp_path / "emu") as emulator, TrapperBed() as trapper:
        # one session: the first dead line holds it for 5 s, the lines behind it are queued
        doc = _doc(emulator, tmp_path, trapper.port, sessions=1, probe=1)
        with BrokerProcess(tmp_path, doc):
            time.sleep(INTERVAL + 4)
        results = _results(trapper)
    first: dict[str, dict[str, Any]] = {}
    for r in results:
        first.setdefault(r["line"], r)
    dead = [r for line, r in first.items() if line.startswith("dead-")]
    healthy = [r for line, r in first.items() if line.startswith("ok-")]
    probed = [r for r in dead if r.get("extra", {}).get("down_probe")]
    full = [r for r in dead if r not in probed]
    assert probed and all(r["status"] == "no_reply" and r["sent"] == 1 for r in probed)
    assert all(r["duration_ms"] < 2500 for r in probed)  # one 1 s probe, not five
    # a dead line's first ping ran in full only when the session was free the moment it was
    # asked (no other ping held it); the order of the slots is fixed, the login's time is not
    assert all(r["status"] == "no_reply" and r["sent"] == 5 for r in full)
    assert not [r for r in full if _busy_when_asked(r, results)]
    measured = [r for r in healthy if r["status"] == "ok"]
    assert measured and all(r["sent"] == 5 for r in measured)  # a reply: the full count
    assert not [r for r in results if r["status"] == "timeout"]
    print("FIGURES", json.dumps({"dead_first": [(r["sent"], r["duration_ms"]) for r in dead],
                                 "healthy_first": Counter(r["status"] for r in healthy)}))
